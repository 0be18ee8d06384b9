<?php
// PHP's own reading of forms, for phpform's tests. Run from the command line, it reads inputs
// from stdin, one base64 line each, and answers each with a line for parse_str($input, $o). Served
// by php -S, it answers a POST with a line for $_POST. A line is three fields, space-separated:
// serialize($o) in base64 (exact: integer and string keys told apart, bytes kept),
// json_encode($o, JSON_INVALID_UTF8_SUBSTITUTE) in base64, and 1 when PHP warned that it dropped
// variables past max_input_vars, else 0.
$answer = fn($o, $warned) => base64_encode(serialize($o)) . ' ' .
    base64_encode(json_encode($o, JSON_INVALID_UTF8_SUBSTITUTE)) . ' ' . (int) $warned . "\n";
if (PHP_SAPI !== 'cli') {
    $e = error_get_last();
    echo $answer($_POST, $e !== null && str_contains($e['message'], 'max_input_vars'));
    return;
}
$warned = false;
set_error_handler(function ($no, $msg) use (&$warned) {
    $warned = $warned || str_contains($msg, 'max_input_vars');
    return true;
});
while (($line = fgets(STDIN)) !== false) {
    $warned = false;
    parse_str(base64_decode(trim($line)), $o);
    echo $answer($o, $warned);
}
