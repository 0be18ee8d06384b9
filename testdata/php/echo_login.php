<?php
// A login endpoint that fails and echoes the request it decoded, re-encoded with the json_encode
// flags and in the shape named by the username, "<flags>:<shape>": "json" (HTTP 500, the request
// in a JSON object), "msg" (a refusal code whose msg quotes the request) or "html" (a debug page).
$in = json_decode(file_get_contents('php://input'), true);
[$flags, $shape] = explode(':', $in['username']);
$echo = json_encode($in, (int)$flags);
switch ($shape) {
case 'json':
    http_response_code(500);
    echo json_encode(['message' => 'login failed', 'request' => $in], (int)$flags);
    break;
case 'msg':
    echo json_encode(['code' => 20004, 'msg' => '用户名或者密码错误 ' . $echo], (int)$flags);
    break;
default:
    http_response_code(500);
    echo '<html><body><h1>Whoops</h1><pre>' . htmlspecialchars($echo) . '</pre></body></html>';
}
