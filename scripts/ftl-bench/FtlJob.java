// The whole `render` job in Apache FreeMarker, as `webhook-sink render` does it: read NDJSON,
// bind each line (Jackson, as the oracle does), render, write each output (a newline added when
// it has none). Timed from outside, JVM start and warm-up included, by scripts/bench-render-job.sh.
// usage: java FtlJob TEMPLATE INPUT.ndjson [setting=value ...]
import freemarker.template.*;
import com.fasterxml.jackson.databind.*;
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;

public class FtlJob {
  public static void main(String[] args) throws Exception {
    Configuration cfg = new Configuration(Configuration.VERSION_2_3_31);
    cfg.setTemplateExceptionHandler(TemplateExceptionHandler.RETHROW_HANDLER);
    cfg.setLogTemplateExceptions(false);
    cfg.setTimeZone(TimeZone.getTimeZone("UTC"));
    cfg.setLocale(Locale.US);
    for (int i = 2; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      cfg.setSetting(args[i].substring(0, eq), args[i].substring(eq + 1));
    }
    String src = new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8);
    Template t = new Template("t", src, cfg);
    ObjectMapper om = new ObjectMapper();
    Writer out = new BufferedWriter(new OutputStreamWriter(new FileOutputStream(FileDescriptor.out), StandardCharsets.UTF_8), 1 << 16);
    long failures = 0;
    try (BufferedReader in = Files.newBufferedReader(Paths.get(args[1]), StandardCharsets.UTF_8)) {
      String line;
      while ((line = in.readLine()) != null) {
        if (line.trim().isEmpty()) continue;
        try {
          Object input = om.readValue(line, Object.class);
          Map<String, Object> root = new HashMap<>();
          root.put("input", input);
          StringWriter w = new StringWriter();
          t.process(root, w);
          String s = w.toString();
          out.write(s);
          if (!s.endsWith("\n")) out.write('\n');
        } catch (Exception e) {
          failures++;
        }
      }
    }
    out.flush();
    if (failures > 0) System.exit(1);
  }
}
