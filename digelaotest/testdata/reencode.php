<?php
// Reads one JSON string per line: "J<json body>" or "Q<query string>". Writes one line per input:
// json_encode of what PHP decodes (json_decode($body, true) or parse_str), or "FALSE".
while (($line = fgets(STDIN)) !== false) {
    $in = json_decode(rtrim($line, "\n"));
    if (substr($in, 0, 1) === 'J') {
        $v = json_decode(substr($in, 1), true);
        $out = is_array($v) ? json_encode($v) : false;
    } else {
        parse_str(substr($in, 1), $v);
        $out = json_encode($v);
    }
    echo json_encode($out === false ? 'FALSE' : $out), "\n";
}
