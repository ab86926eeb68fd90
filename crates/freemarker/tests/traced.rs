//! `Template::render_traced`: the output is `render`'s, and each byte traces back to the text or
//! interpolation that wrote it, through loops, white-space stripping, captures, macros and a
//! failed `<#attempt>`.

use freemarker::{Origin, Settings, Template};
use serde_json::json;

fn origin(source: &str, input: serde_json::Value, byte_of: &str) -> (String, Origin) {
    let template = Template::new("t", source, Settings::default()).expect("parses");
    let plain = template.render(&input).expect("renders");
    let traced = template.render_traced(&input).expect("renders traced");
    assert_eq!(traced.output(), plain);
    let offset = plain.rfind(byte_of).expect("the byte is in the output");
    let origin = traced.origin(offset).expect("an origin");
    (plain, origin)
}

fn at(line: usize, column: usize, text: bool) -> Origin {
    Origin { line, column, text }
}

#[test]
fn an_interpolated_value_traces_to_its_interpolation() {
    let (out, o) = origin(
        "{\n  \"name\": \"${input.name}\"\n}",
        json!({"name": "a\"b"}),
        "b",
    );
    assert_eq!(out, "{\n  \"name\": \"a\"b\"\n}");
    assert_eq!(o, at(2, 14, false));
}

#[test]
fn static_text_traces_to_the_character_even_after_white_space_stripping() {
    let source = "[\n<#list 1..2 as i>\n  {\"n\": ${i}},\n</#list>\n]";
    let (out, o) = origin(source, json!({}), "]");
    assert_eq!(out, "[\n  {\"n\": 1},\n  {\"n\": 2},\n]");
    assert_eq!(o, at(5, 1, true));
    let (_, comma) = origin(source, json!({}), ",");
    assert_eq!(comma, at(3, 14, true));
    let (_, brace) = origin(source, json!({}), "{");
    assert_eq!(brace, at(3, 3, true));
}

#[test]
fn captured_and_macro_output_trace_to_where_they_land() {
    let (_, o) = origin("<#assign c>AB</#assign>x${c}", json!({}), "B");
    assert_eq!(o, at(1, 27, false));
    let (_, m) = origin("<#macro m>[Q]</#macro>x<@m/>", json!({}), "Q");
    assert_eq!(m, at(1, 12, true));
}

#[test]
fn a_failed_attempt_leaves_no_trace() {
    let source = "<#attempt>ab${input.missing}<#recover>cd</#attempt>";
    let (out, o) = origin(source, json!({}), "c");
    assert_eq!(out, "cd");
    assert_eq!(o, at(1, 39, true));
}

#[test]
fn an_escaped_interpolation_traces_to_itself_not_to_the_escape() {
    let source = "<#escape x as x?upper_case>\n{\"a\": \"${input.a}\"}\n</#escape>";
    let (out, o) = origin(source, json!({"a": "q\"z"}), "Z");
    assert_eq!(out, "{\"a\": \"Q\"Z\"}\n");
    assert_eq!(o, at(2, 10, false));
}
