<?php
// Writes, as a JSON list, how a PHP server may echo a login request that carried each password
// read from stdin (a JSON list): under every combination of the json_encode flags that change how
// a string is escaped, re-encoded, HTML-escaped, nested in another JSON string, percent-encoded,
// or quoted as a PHP string (var_export, addslashes).
// "form" is the password as it stands in "echo".
$passwords = json_decode(stream_get_contents(STDIN), true);
$names = ['JSON_UNESCAPED_UNICODE', 'JSON_UNESCAPED_SLASHES', 'JSON_HEX_QUOT', 'JSON_HEX_TAG', 'JSON_HEX_AMP', 'JSON_HEX_APOS'];
$out = [];
$add = function ($flags, $pw, $shape, $form, $echo) use (&$out) {
    $out[] = ['flags' => $flags, 'password' => $pw, 'shape' => $shape, 'form' => $form, 'echo' => $echo];
};
for ($m = 0; $m < 1 << count($names); $m++) {
    $flags = 0;
    $set = [];
    foreach ($names as $i => $n) {
        if ($m & 1 << $i) {
            $flags |= constant($n);
            $set[] = $n;
        }
    }
    $set = implode('|', $set);
    $enc = fn($v) => json_encode($v, $flags);
    $inner = fn($s) => substr($enc($s), 1, -1); // a string as it stands inside a JSON string
    foreach ($passwords as $pw) {
        $req = ['username' => 'demo', 'password' => $pw, 'from' => '2'];
        $add($set, $pw, 'json', $inner($pw), $enc(['message' => 'login failed', 'request' => $req]));
        $add($set, $pw, 'html', htmlspecialchars($inner($pw)), '<pre>' . htmlspecialchars($enc($req)) . '</pre>');
        $add($set, $pw, 'body in json', $inner($inner($pw)), $enc(['error' => 'bad login', 'body' => $enc($req)]));
        $add($set, $pw, 'html in json', $inner(htmlspecialchars($pw)), $enc(['msg' => 'bad password ' . htmlspecialchars($pw) . ' for demo']));
        $add($set, $pw, 'query in json', $inner(urlencode($pw)), $enc(['msg' => 'GET /api/x?username=demo&password=' . urlencode($pw)]));
    }
}
foreach ($passwords as $pw) {
    $add('', $pw, 'urlencode', urlencode($pw), 'bad request: ' . http_build_query(['username' => 'demo', 'password' => $pw]));
    $add('', $pw, 'rawurlencode', rawurlencode($pw), 'not found: /login/demo/' . rawurlencode($pw));
    $add('', $pw, 'var_export', substr(var_export($pw, true), 1, -1), var_export(['username' => 'demo', 'password' => $pw], true));
    $add('', $pw, 'addslashes', addslashes($pw), "SQL error near 'demo', '" . addslashes($pw) . "'");
    $html5 = htmlspecialchars($pw, ENT_QUOTES | ENT_HTML5);
    $add('', $pw, 'html5', $html5, '<input name="username" value="demo"><input name="password" value="' . $html5 . '">');
}
echo json_encode($out);
