//! Reads the Prometheus text exposition the host renders for `/metrics` back into samples.
//!
//! Written by hand because the dashboard reads only what our own recorder writes (one sample
//! per line, `name{label="value",...} number`, no timestamps), which takes a few dozen lines;
//! the parser crates on crates.io are unmaintained or pull in a full client.

/// One line of the exposition: a metric name, its labels and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The metric's name (with any `_sum` / `_count` suffix).
    pub name: String,
    /// Its labels, in the order written.
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
}

impl Sample {
    /// The value of label `key`, if the sample has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every sample of `text`; comments, blank lines and lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let (labels, rest) = if line[name_end..].starts_with('{') {
        parse_labels(&line[name_end + 1..])?
    } else {
        (Vec::new(), &line[name_end..])
    };
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// The labels after `{` up to the closing `}`, and what follows it.
fn parse_labels(mut text: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start_matches([' ', ',']);
        if let Some(rest) = text.strip_prefix('}') {
            return Some((labels, rest));
        }
        let eq = text.find('=')?;
        let key = text[..eq].trim().to_owned();
        let quoted = text[eq + 1..].strip_prefix('"')?;
        let (value, rest) = unquote(quoted)?;
        labels.push((key, value));
        text = rest;
    }
}

/// A label value up to its closing quote, unescaping `\\`, `\"` and `\n`.
fn unquote(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            other => value.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_labels_and_values_and_skips_the_rest() {
        let text = "# TYPE webhook_requests_total counter\n\
            webhook_requests_total{component_id=\"a \\\"b\\\"\",status=\"200\"} 42\n\
            \n\
            up 1\n\
            webhook_delivery_latency_seconds{quantile=\"0.95\"} 0.0125\n\
            broken{x=\"1\" 3\n";
        let samples = parse(text);
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[0].name, "webhook_requests_total");
        assert_eq!(samples[0].label("component_id"), Some("a \"b\""));
        assert_eq!(samples[0].label("status"), Some("200"));
        assert_eq!(samples[0].value, 42.0);
        assert_eq!(samples[1].name, "up");
        assert!(samples[1].labels.is_empty());
        assert_eq!(samples[2].value, 0.0125);
    }
}
