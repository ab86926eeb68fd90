import java.text.*;
import java.util.*;
// Dumps, per locale, DecimalFormatSymbols and the number/currency/percent patterns, as JSON.
public class NumData {
  static String q(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
  public static void main(String[] args) {
    StringBuilder out = new StringBuilder("{");
    boolean first = true;
    for (String tag : args) {
      String[] p = tag.split("_");
      Locale l = new Locale(p[0], p.length > 1 ? p[1] : "");
      DecimalFormatSymbols s = DecimalFormatSymbols.getInstance(l);
      if (!first) out.append(",");
      first = false;
      out.append(q(tag)).append(":{");
      out.append("\"decimal\":").append(q(String.valueOf(s.getDecimalSeparator())));
      out.append(",\"grouping\":").append(q(String.valueOf(s.getGroupingSeparator())));
      out.append(",\"monetary_grouping\":").append(q(String.valueOf(s.getMonetaryGroupingSeparator())));
      out.append(",\"monetary_decimal\":").append(q(String.valueOf(s.getMonetaryDecimalSeparator())));
      out.append(",\"minus\":").append(q(String.valueOf(s.getMinusSign())));
      out.append(",\"exponent\":").append(q(s.getExponentSeparator()));
      out.append(",\"currency\":").append(q(s.getCurrencySymbol()));
      out.append(",\"currency_code\":").append(q(s.getInternationalCurrencySymbol()));
      out.append(",\"nan\":").append(q(s.getNaN()));
      out.append(",\"infinity\":").append(q(s.getInfinity()));
      out.append(",\"percent\":").append(q(String.valueOf(s.getPercent())));
      out.append(",\"per_mill\":").append(q(String.valueOf(s.getPerMill())));
      out.append(",\"zero\":").append(q(String.valueOf(s.getZeroDigit())));
      out.append(",\"number_pattern\":").append(q(((DecimalFormat) NumberFormat.getNumberInstance(l)).toPattern()));
      out.append(",\"currency_pattern\":").append(q(((DecimalFormat) NumberFormat.getCurrencyInstance(l)).toPattern()));
      out.append(",\"percent_pattern\":").append(q(((DecimalFormat) NumberFormat.getPercentInstance(l)).toPattern()));
      out.append("}");
    }
    System.out.println(out.append("}"));
  }
}
