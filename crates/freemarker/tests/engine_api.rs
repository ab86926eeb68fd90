//! The public API's promises beyond the conformance corpus: error locations and excerpts, sandbox limits,
//! refused directives, settings validation, and sharing one template across threads.

use freemarker::{ErrorKind, Settings, Template};
use serde_json::json;

const SEED_EVENT: &str = r#"{
      <#if input.user_id??>
      "external_id" : "${input.user_id}",
      </#if>
      "name" : "${input.event_type}",
      "time" : "${input.event_time}",
      "properties" : {
            "email" : "${input.user_properties.email!}"
      }
}
"#;

fn compile(src: &str) -> Template {
    Template::new("t", src, Settings::default()).unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn seed_event_template_renders_like_freemarker() {
    let t = compile(SEED_EVENT);
    let with_user = json!({"user_id":"u1","event_type":"click event","event_time":"2022-10-24 20:07:32.123","user_properties":{"email":"a@b.c"}});
    // recorded from Apache FreeMarker 2.3.31: the first line keeps its indentation, tag-only lines vanish
    assert_eq!(
        t.render(&with_user).unwrap(),
        "{\n            \"external_id\" : \"u1\",\n      \"name\" : \"click event\",\n      \"time\" : \"2022-10-24 20:07:32.123\",\n      \"properties\" : {\n            \"email\" : \"a@b.c\"\n      }\n}\n"
    );
    let without = json!({"user_id":null,"event_type":"x\"y","event_time":"t","user_properties":{"email":null}});
    assert_eq!(
        t.render(&without).unwrap(),
        "{\n            \"name\" : \"x\"y\",\n      \"time\" : \"t\",\n      \"properties\" : {\n            \"email\" : \"\"\n      }\n}\n"
    );
}

#[test]
fn missing_value_error_names_the_expression_and_its_position() {
    let t = compile("line one\n  ${input.a.b}");
    let err = t.render(&json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Render);
    assert_eq!(
        err.to_string(),
        "The following has evaluated to null or missing:"
    );
    assert_eq!((err.line(), err.column()), (Some(2), Some(5)));
    let long = format!("{err:#}");
    assert!(long.contains("==> input.a"), "{long}");
    assert!(long.contains("line 2, column 5"), "{long}");
    assert!(
        long.contains("  ${input.a.b}\n") && long.ends_with('^'),
        "{long}"
    );
}

#[test]
fn syntax_error_reports_line_and_column_like_freemarker() {
    let err = Template::new("tpl", "ok\n<#if true>${1 + }</#if>", Settings::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Syntax);
    assert_eq!(err.line(), Some(2));
    assert_eq!(
        err.to_string(),
        format!(
            "Syntax error in template \"tpl\" in line 2, column {}:",
            err.column().unwrap()
        )
    );
}

#[test]
fn sandbox_refuses_file_and_eval_features_at_parse_time() {
    for src in [
        "<#include \"x.ftl\">",
        "<#import \"lib.ftl\" as lib>",
        "${\"1+1\"?eval}",
        "${\"x\"?new()}",
        "${input?api}",
        "<#visit input>",
    ] {
        let err = Template::new("t", src, Settings::default()).err();
        assert!(
            matches!(err, Some(ref e) if e.kind() == ErrorKind::Syntax),
            "{src}: {err:?}"
        );
    }
}

#[test]
fn endless_loop_hits_the_step_or_output_limit() {
    let mut settings = Settings::default();
    settings.max_steps = 100_000;
    let t = Template::new("t", "<#list 1.. as i>${i}</#list>", settings).unwrap();
    let err = t.render(&json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit, "{err}");
}

#[test]
fn output_limit_stops_a_render() {
    let mut settings = Settings::default();
    settings.max_output_bytes = 1000;
    let t = Template::new("t", "<#list 1..10000 as i>xxxxxxxxxx</#list>", settings).unwrap();
    let err = t.render(&json!({})).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit);
    assert!(err.to_string().contains("1000 bytes"), "{err}");
}

#[test]
fn unbounded_recursion_fails_cleanly_on_a_small_stack() {
    // test threads have 2 MiB of stack; the depth limit must trip long before that, even in debug builds
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let m = compile("<#macro m n><@m n=n+1/></#macro><@m n=1/>")
                .render(&json!({}))
                .unwrap_err();
            let f = compile("<#function f n><#return f(n + 1)></#function>${f(1)}")
                .render(&json!({}))
                .unwrap_err();
            let nested = compile("<#macro w><#nested><@w><#nested></@w></#macro><@w>x</@w>")
                .render(&json!({}))
                .unwrap_err();
            (m.kind(), f.kind(), nested.kind())
        })
        .unwrap();
    assert_eq!(
        handle.join().unwrap(),
        (ErrorKind::Limit, ErrorKind::Limit, ErrorKind::Limit)
    );
}

#[test]
fn deeply_nested_source_is_a_syntax_error_not_a_stack_overflow() {
    let parens = format!("${{{}1{}}}", "(".repeat(5000), ")".repeat(5000));
    let ifs = format!("{}x{}", "<#if true>".repeat(5000), "</#if>".repeat(5000));
    for src in [parens, ifs] {
        let err = Template::new("t", &src, Settings::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Syntax);
    }
}

#[test]
fn attempt_recovers_from_errors_but_not_from_limits() {
    let t = compile("<#attempt>a${input.nope}b<#recover>fallback</#attempt>");
    assert_eq!(t.render(&json!({})).unwrap(), "fallback");
    let mut settings = Settings::default();
    settings.max_steps = 1000;
    let t = Template::new(
        "t",
        "<#attempt><#list 1.. as i>${i}</#list><#recover>r</#attempt>",
        settings,
    )
    .unwrap();
    assert_eq!(t.render(&json!({})).unwrap_err().kind(), ErrorKind::Limit);
}

#[test]
fn settings_are_checked_by_name_and_value() {
    let mut s = Settings::default();
    let unknown = s.set("no_such_setting", "1").unwrap_err();
    assert!(unknown.to_string().contains("no_such_setting"), "{unknown}");
    let bad = s.set("classic_compatible", "maybe").unwrap_err();
    assert!(bad.to_string().contains("classic_compatible"), "{bad}");
    s.set("numberFormat", "computer").unwrap();
    s.set("boolean_format", "yes,no").unwrap();
    let t = Template::new("t", "${input.n} ${input.b}", s).unwrap();
    assert_eq!(
        t.render(&json!({"n": 1234567, "b": true})).unwrap(),
        "1234567 yes"
    );
}

#[test]
fn template_setting_changes_only_that_render() {
    let t = compile(
        "${input.n}<#if input.switch><#setting number_format=\"#,##0.00\"></#if> ${input.n}",
    );
    assert_eq!(
        t.render(&json!({"n": 1234, "switch": true})).unwrap(),
        "1,234 1,234.00"
    );
    assert_eq!(
        t.render(&json!({"n": 1234, "switch": false})).unwrap(),
        "1,234 1,234"
    );
}

#[test]
fn render_to_appends_and_leaves_the_buffer_alone_on_error() {
    let ok = compile("[${input.a}]");
    let bad = compile("[${input.missing}]");
    let mut out = String::from("before:");
    ok.render_to(&json!({"a": "x"}), &mut out).unwrap();
    assert_eq!(out, "before:[x]");
    assert!(bad.render_to(&json!({}), &mut out).is_err());
    assert_eq!(out, "before:[x]");
}

#[test]
fn one_template_renders_from_many_threads_at_once() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Template>();
    let t = std::sync::Arc::new(compile(
        "<#list input.items as i>${i.name}:${i.qty * 2}<#sep>,</#list>",
    ));
    let handles: Vec<_> = (0..4)
        .map(|n| {
            let t = t.clone();
            std::thread::spawn(move || {
                let input = json!({"items": [{"name": format!("a{n}"), "qty": n}, {"name": "b", "qty": 10}]});
                (0..200).map(|_| t.render(&input).unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    for (n, h) in handles.into_iter().enumerate() {
        let outs = h.join().unwrap();
        assert!(
            outs.iter().all(|o| *o == format!("a{n}:{},b:20", n * 2)),
            "{:?}",
            outs[0]
        );
    }
}

#[test]
fn integer_extremes_behave_like_java_ints_without_overflowing() {
    // range bounds and built-in arguments are Java ints in FreeMarker (wrapping); expected output recorded
    // from Apache FreeMarker 2.3.31. In a debug build any arithmetic overflow here would panic.
    let src = r#"<#attempt>${(-9223372036854775807-1..9223372036854775807)?size}<#recover>e1</#attempt>
<#attempt>${(0..*-9223372036854775807-1)?size}<#recover>e2</#attempt>
<#attempt>${"a"?left_pad(9223372036854775807)?length}<#recover>e3</#attempt>
<#attempt>${[1]?chunk(9223372036854775807)?size}<#recover>e4</#attempt>
<#attempt>${"abc"?truncate(9223372036854775807)}<#recover>e5</#attempt>
<#attempt>${[1,2,3][1..9223372036854775807]?size}<#recover>e6</#attempt>
<#attempt>${"abc"[9223372036854775807..]}<#recover>e7</#attempt>
<#attempt>${(9223372036854775807..)[1]}<#recover>e8</#attempt>
<#attempt>${[1,2,3][2..*-9223372036854775807]?size}<#recover>e9</#attempt>
<#attempt>${"abc"?substring(2, 9223372036854775807)}<#recover>e10</#attempt>
<#attempt>${(1..3)?reverse?join(",")} ${(3..1)[0..*9223372036854775807]?join(",")}<#recover>e11</#attempt>
<#attempt>${"x"?index_of("x", 9223372036854775807)} ${"x"?last_index_of("x", 9223372036854775807)}<#recover>e12</#attempt>
<#attempt>${9223372036854775807?lower_abc}<#recover>e13</#attempt>
<#attempt><#list 9223372036854775806.. as i>${i} <#if i?index == 3><#break></#if></#list><#recover>e14</#attempt>
"#;
    let expected = "2\n0\n1\ne4\ne5\ne6\ne7\n0\n1\ne10\n3,2,1 3\n0 -1\ne13\n-2 -1 0 1 \n";
    assert_eq!(compile(src).render(&json!({})).unwrap(), expected);
}
