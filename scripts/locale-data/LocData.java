import java.text.*;
import java.util.*;
// Dumps, per locale, the Java date data FreeMarker's SimpleDateFormat-based formats use, as JSON.
public class LocData {
  static String q(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
  static String arr(String[] a, int from, int n) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < n; i++) { if (i > 0) b.append(','); b.append(q(a[from + i])); }
    return b.append(']').toString();
  }
  public static void main(String[] args) {
    String[] zones = {"UTC","GMT","Europe/London","Europe/Dublin","Europe/Lisbon","Europe/Berlin","Europe/Athens","Europe/Moscow","America/New_York","America/Chicago","America/Denver","America/Los_Angeles","Asia/Tokyo","Asia/Kolkata","Asia/Shanghai","Australia/Sydney","America/Sao_Paulo","America/Argentina/Buenos_Aires","America/Bogota","America/Lima","America/Santiago","America/Mexico_City","America/Halifax","America/St_Johns","America/Anchorage","Pacific/Honolulu","Asia/Singapore","Asia/Hong_Kong","Asia/Taipei","Asia/Seoul","Asia/Manila","Asia/Jakarta","Asia/Bangkok","Asia/Ho_Chi_Minh","Asia/Dubai","Asia/Karachi","Asia/Dhaka","Asia/Kathmandu","Asia/Tehran","Asia/Jerusalem","Europe/Istanbul","Africa/Johannesburg","Africa/Lagos","Africa/Nairobi","Australia/Perth","Australia/Adelaide","Australia/Brisbane","Pacific/Auckland","Atlantic/Reykjavik","America/Caracas"};
    StringBuilder out = new StringBuilder("{");
    boolean first = true;
    for (String tag : args) {
      String[] p = tag.split("_");
      Locale l = new Locale(p[0], p.length > 1 ? p[1] : "");
      DateFormatSymbols s = DateFormatSymbols.getInstance(l);
      Calendar cal = Calendar.getInstance(TimeZone.getTimeZone("UTC"), l);
      String[] sm = new String[12], ssm = new String[12];
      Map<String,Integer> lm = cal.getDisplayNames(Calendar.MONTH, Calendar.LONG_STANDALONE, l);
      Map<String,Integer> sm2 = cal.getDisplayNames(Calendar.MONTH, Calendar.SHORT_STANDALONE, l);
      for (int m = 0; m < 12; m++) {
        cal.set(2023, m, 5);
        sm[m] = cal.getDisplayName(Calendar.MONTH, Calendar.LONG_STANDALONE, l);
        ssm[m] = cal.getDisplayName(Calendar.MONTH, Calendar.SHORT_STANDALONE, l);
      }
      if (!first) out.append(",");
      first = false;
      out.append(q(tag)).append(":{");
      out.append("\"months\":").append(arr(s.getMonths(), 0, 12));
      out.append(",\"short_months\":").append(arr(s.getShortMonths(), 0, 12));
      out.append(",\"standalone_months\":").append(arr(sm, 0, 12));
      out.append(",\"standalone_short_months\":").append(arr(ssm, 0, 12));
      out.append(",\"weekdays\":").append(arr(s.getWeekdays(), 1, 7));
      out.append(",\"short_weekdays\":").append(arr(s.getShortWeekdays(), 1, 7));
      out.append(",\"am_pm\":").append(arr(s.getAmPmStrings(), 0, 2));
      out.append(",\"eras\":").append(arr(s.getEras(), 0, 2));
      String[] ds = new String[4], ts = new String[4], dts = new String[16];
      for (int i = 0; i < 4; i++) {
        ds[i] = ((SimpleDateFormat) DateFormat.getDateInstance(i, l)).toPattern();
        ts[i] = ((SimpleDateFormat) DateFormat.getTimeInstance(i, l)).toPattern();
        for (int j = 0; j < 4; j++) dts[i * 4 + j] = ((SimpleDateFormat) DateFormat.getDateTimeInstance(i, j, l)).toPattern();
      }
      out.append(",\"date\":").append(arr(ds, 0, 4));
      out.append(",\"time\":").append(arr(ts, 0, 4));
      out.append(",\"date_time\":").append(arr(dts, 0, 16));
      Calendar c2 = Calendar.getInstance(l);
      out.append(",\"week\":[").append(c2.getFirstDayOfWeek()).append(',').append(c2.getMinimalDaysInFirstWeek()).append(']');
      out.append(",\"zones\":[");
      for (int z = 0; z < zones.length; z++) {
        TimeZone tz = TimeZone.getTimeZone(zones[z]);
        String[] n = { tz.getDisplayName(false, TimeZone.SHORT, l), tz.getDisplayName(true, TimeZone.SHORT, l), tz.getDisplayName(false, TimeZone.LONG, l), tz.getDisplayName(true, TimeZone.LONG, l) };
        if (z > 0) out.append(',');
        out.append(arr(n, 0, 4));
      }
      out.append("]}");
    }
    System.out.println(out.append("}"));
  }
}
