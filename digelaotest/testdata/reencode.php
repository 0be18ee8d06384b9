<?php
// Reads one JSON string per line: "J<json body>", "Q<query string>" or "S<json body>". Writes one
// line per input: json_encode of what PHP decodes (json_decode($body, true) or parse_str), or for
// "S" of the (string) cast of each top-level scalar (null for an array), or "FALSE".
while (($line = fgets(STDIN)) !== false) {
    $in = json_decode(rtrim($line, "\n"));
    $mode = substr($in, 0, 1);
    if ($mode === 'J' || $mode === 'S') {
        $v = json_decode(substr($in, 1), true);
        if ($mode === 'S' && is_array($v)) {
            $v = array_map(fn($x) => is_array($x) ? null : (string) $x, $v);
        }
        $out = is_array($v) ? json_encode($v) : false;
    } else {
        parse_str(substr($in, 1), $v);
        $out = json_encode($v);
    }
    echo json_encode($out === false ? 'FALSE' : $out), "\n";
}
