// Times Apache FreeMarker rendering the benchmark templates over the benchmark events, in a warm JVM,
// with the same Configuration as /work/shared/oracle/FtlOracle.java plus the given settings.
// usage: java FtlBench EVENTS.ndjson TEMPLATE.ftl... [setting=value ...]
// Prints one line per template: "<name> <median ns> ns/render median, <best ns> best (...)", over 5 rounds
// of one second after a 3 s warm-up; "best" is the least disturbed round on a shared machine.
// Each event line is parsed once up front (as the Rust bench does); a render is Template.process of
// one event into a fresh StringWriter, the way a sink renders one record.
import freemarker.template.*;
import com.fasterxml.jackson.databind.*;
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;

public class FtlBench {
  static final long WARMUP_NS = 3_000_000_000L;
  static final int ROUNDS = 5;
  static final long ROUND_NS = 1_000_000_000L;

  public static void main(String[] args) throws Exception {
    Configuration cfg = new Configuration(Configuration.VERSION_2_3_31);
    cfg.setTemplateExceptionHandler(TemplateExceptionHandler.RETHROW_HANDLER);
    cfg.setLogTemplateExceptions(false);
    cfg.setWrapUncheckedExceptions(true);
    cfg.setTimeZone(TimeZone.getTimeZone("UTC"));
    cfg.setLocale(Locale.US);
    List<String> templates = new ArrayList<>();
    for (int i = 1; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      if (eq > 0 && !args[i].endsWith(".ftl")) cfg.setSetting(args[i].substring(0, eq), args[i].substring(eq + 1));
      else templates.add(args[i]);
    }
    ObjectMapper om = new ObjectMapper();
    List<Map<String, Object>> roots = new ArrayList<>();
    for (String line : Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8)) {
      if (line.trim().isEmpty()) continue;
      Map<String, Object> root = new HashMap<>();
      root.put("input", om.readValue(line, Object.class));
      roots.add(root);
    }
    for (String path : templates) {
      String src = new String(Files.readAllBytes(Paths.get(path)), StandardCharsets.UTF_8);
      Template t = new Template("t", src, cfg);
      long sink = 0;
      long end = System.nanoTime() + WARMUP_NS;
      while (System.nanoTime() < end) sink += renderAll(t, roots);
      double[] nsPerRender = new double[ROUNDS];
      long renders = 0;
      for (int r = 0; r < ROUNDS; r++) {
        long n = 0, start = System.nanoTime(), stop = start + ROUND_NS, now;
        do { sink += renderAll(t, roots); n += roots.size(); now = System.nanoTime(); } while (now < stop);
        nsPerRender[r] = (double) (now - start) / n;
        renders += n;
      }
      Arrays.sort(nsPerRender);
      String name = Paths.get(path).getFileName().toString().replace(".ftl", "");
      System.out.printf(Locale.ROOT, "%s %.0f ns/render median, %.0f best (%d renders in %d rounds, checksum %d)%n",
          name, nsPerRender[ROUNDS / 2], nsPerRender[0], renders, ROUNDS, sink % 1000);
    }
  }

  static long renderAll(Template t, List<Map<String, Object>> roots) throws Exception {
    long chars = 0;
    for (Map<String, Object> root : roots) {
      StringWriter w = new StringWriter(512);
      t.process(root, w);
      chars += w.getBuffer().length();
    }
    return chars;
  }
}
