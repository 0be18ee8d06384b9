<?php
// The platform's check, done with PHP's own functions: decode what was received, drop `url`,
// re-encode with json_encode's default flags, and compare characters 2-9 of the md5.
header('Content-Type: application/json');
// Replies stay JSON whatever the request held (invalid UTF-8, INF).
$reply = fn($r) => json_encode($r, JSON_PARTIAL_OUTPUT_ON_ERROR | JSON_INVALID_UTF8_SUBSTITUTE);
// The Content-Type as PHP itself matches it: lowercased, up to the first ';', ',' or ' '.
$type = strtolower(preg_replace('/[;, ].*/s', '', $_SERVER['CONTENT_TYPE'] ?? ''));
$files = [];
if ($_SERVER['REQUEST_METHOD'] === 'GET') {
    $params = $_GET;
} elseif (str_contains($type, 'json')) {
    // A body is decoded as JSON only when the request says it is JSON: a type that contains
    // "json" (application/json, text/json, application/vnd.api+json), as ThinkPHP and Laravel
    // test it.
    $params = json_decode(file_get_contents('php://input'), true);
    if (!is_array($params)) {
        echo $reply(['code' => 20002, 'msg' => '数据格式错误']);
        return;
    }
} else {
    // $_POST: PHP fills it from urlencoded and multipart bodies, with the text fields of an upload
    // (the file goes to $_FILES), and leaves it empty for any other Content-Type or none.
    $params = $_POST;
    foreach ($_FILES as $field => $f) {
        $files[$field] = ['name' => $f['name'], 'size' => $f['size'], 'error' => $f['error'],
            'md5' => $f['error'] === 0 ? md5_file($f['tmp_name']) : ''];
    }
}
$received = isset($params['url']) ? $params['url'] : '';
unset($params['url']);
$json = json_encode($params);
// Where json_encode fails (invalid UTF-8, INF) its false is hashed as "".
if ($received !== substr(md5((string) $json), 1, 8)) {
    echo $reply(['code' => 10001, 'msg' => 'url验证失败', 'data' => ['json' => $json]]);
    return;
}
// text: each top-level scalar as the platform's (string) reads it.
$text = array_map(fn($v) => is_array($v) ? null : (string) $v, $params);
echo $reply(['code' => 0, 'msg' => 'SUCCESS', 'data' => ['json' => $json, 'params' => $params,
    'files' => (object) $files, 'text' => (object) $text]]);
