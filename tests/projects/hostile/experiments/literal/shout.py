"""Prints markup and template syntax; the record must show it exactly."""

from labreport.record import record

print("<script>alert('output')</script>")
print("</pre><h1>not a heading</h1>")
print("{{ 7*7 }} {% include 'x.html' %}")
record("shown", "<i>recorded</i> {{ 7*7 }}")
