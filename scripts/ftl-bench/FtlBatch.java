// Many oracle runs in one JVM, for regenerating the conformance corpus quickly.
// usage: java FtlBatch JOBS.ndjson
// Each job line: {"template": "...", "settings": ["name=value", ...], "inputs": ["<json line>", ...]}.
// Prints one JSON line per job: an array of strings, each string being exactly the line that
// /work/shared/oracle/FtlOracle.java would print for that input ({"output": ...} or {"error": ...}).
// The Configuration, settings handling, data binding and firstLine() are copied from FtlOracle.java on
// purpose: the two must agree byte for byte (scripts/regen_corpus.py --check-oracle verifies that).
import freemarker.template.*;
import com.fasterxml.jackson.databind.*;
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;

public class FtlBatch {
  public static void main(String[] args) throws Exception {
    ObjectMapper om = new ObjectMapper();
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
    for (String jobLine : Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8)) {
      if (jobLine.trim().isEmpty()) continue;
      JsonNode job = om.readTree(jobLine);
      List<String> lines = new ArrayList<>();
      try {
        lines = runJob(om, job);
      } catch (Exception e) {
        // FtlOracle itself would die here (e.g. a rejected setting); report it so the caller can stop.
        Map<String, Object> res = new LinkedHashMap<>();
        res.put("job_failed", String.valueOf(e));
        lines.clear();
        lines.add(om.writeValueAsString(res));
      }
      out.println(om.writeValueAsString(lines));
    }
  }

  static List<String> runJob(ObjectMapper om, JsonNode job) throws Exception {
    Configuration cfg = new Configuration(Configuration.VERSION_2_3_31);
    cfg.setTemplateExceptionHandler(TemplateExceptionHandler.RETHROW_HANDLER);
    cfg.setLogTemplateExceptions(false);
    cfg.setWrapUncheckedExceptions(true);
    cfg.setTimeZone(TimeZone.getTimeZone("UTC"));
    cfg.setLocale(Locale.US);
    for (JsonNode s : job.get("settings")) {
      String setting = s.asText();
      int eq = setting.indexOf('=');
      cfg.setSetting(setting.substring(0, eq), setting.substring(eq + 1));
    }
    String src = job.get("template").asText();
    Template t = null;
    String parseError = null;
    try { t = new Template("t", src, cfg); } catch (Exception e) { parseError = firstLine(e.getMessage()); }
    List<String> lines = new ArrayList<>();
    for (JsonNode in : job.get("inputs")) {
      String line = in.asText();
      if (line.trim().isEmpty()) continue;
      Map<String, Object> res = new LinkedHashMap<>();
      if (parseError != null) { res.put("error", parseError); lines.add(om.writeValueAsString(res)); continue; }
      try {
        Object input = om.readValue(line, Object.class);
        Map<String, Object> root = new HashMap<>();
        root.put("input", input);
        StringWriter w = new StringWriter();
        t.process(root, w);
        res.put("output", w.toString());
      } catch (Exception e) {
        res.put("error", firstLine(e.getMessage()));
      } catch (StackOverflowError e) {
        // FtlOracle would die here with no output; record it as an error so runaway recursion can be a
        // (sandbox) case at all.
        res.put("error", "StackOverflowError");
      }
      lines.add(om.writeValueAsString(res));
    }
    return lines;
  }

  static String firstLine(String s) { if (s == null) return "error"; int n = s.indexOf('\n'); return n < 0 ? s : s.substring(0, n); }
}
