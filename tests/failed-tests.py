#!/usr/bin/env python3
"""Lists the failed tests in the given TRX reports with the first lines of each failure message."""
import sys
import xml.etree.ElementTree as ET

NS = "{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}"
MESSAGE_LINES = 12

failures = []
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as error:
        failures.append((path, [f"report could not be read: {error}"]))
        continue
    for result in root.iter(f"{NS}UnitTestResult"):
        if result.get("outcome") not in ("Failed", "Error", "Timeout", "Aborted"):
            continue
        message = result.findtext(f"{NS}Output/{NS}ErrorInfo/{NS}Message") or "(no message)"
        lines = [line.rstrip() for line in message.strip().splitlines()][:MESSAGE_LINES]
        failures.append((result.get("testName", "?"), lines))

print(f"== {len(failures)} failed")
for name, lines in failures:
    print(f"FAILED {name}")
    for line in lines:
        print(f"    {line[:300]}")
