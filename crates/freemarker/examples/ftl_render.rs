//! Renders a template once per NDJSON input line and prints `{"output": ...}` / `{"error": ...}` lines,
//! the same shape as the FreeMarker oracle, for side-by-side comparison.
//!
//! usage: cargo run -p freemarker --example ftl_render -- TEMPLATE.ftl INPUT.ndjson [setting=value ...]

use freemarker::{Settings, Template};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: ftl_render TEMPLATE.ftl INPUT.ndjson [setting=value ...]");
        std::process::exit(2);
    }
    let src = std::fs::read_to_string(&args[1]).unwrap_or_else(|e| {
        eprintln!("{}: {e}", args[1]);
        std::process::exit(2)
    });
    let input = std::fs::read_to_string(&args[2]).unwrap_or_else(|e| {
        eprintln!("{}: {e}", args[2]);
        std::process::exit(2)
    });
    let mut settings = Settings::default();
    let mut setting_error = None;
    for kv in &args[3..] {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        if let Err(e) = settings.set(k, v) {
            setting_error = Some(e.to_string());
        }
    }
    let template = Template::new("t", &src, settings);
    for line in input.lines().filter(|l| !l.trim().is_empty()) {
        let result = match (&setting_error, &template) {
            (Some(e), _) => Err(e.clone()),
            (None, Err(e)) => Err(e.to_string()),
            (None, Ok(t)) => match serde_json::from_str::<serde_json::Value>(line) {
                Ok(v) => t.render(&v).map_err(|e| {
                    if std::env::var_os("FTL_VERBOSE").is_some() {
                        eprintln!("{e:#}");
                    }
                    e.to_string()
                }),
                Err(e) => Err(format!("bad input JSON: {e}")),
            },
        };
        let obj = match result {
            Ok(o) => serde_json::json!({ "output": o }),
            Err(e) => serde_json::json!({ "error": e }),
        };
        println!("{obj}");
    }
}
