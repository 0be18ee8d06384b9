<?php
// The platform's check, done with PHP's own functions: decode what was received, drop `url`,
// re-encode with json_encode's default flags, and compare characters 2-9 of the md5.
header('Content-Type: application/json');
$files = [];
if ($_SERVER['REQUEST_METHOD'] === 'GET') {
    $params = $_GET;
} elseif (str_starts_with($_SERVER['CONTENT_TYPE'] ?? '', 'multipart/form-data')) {
    // An upload: PHP puts the text fields in $_POST and the file in $_FILES.
    $params = $_POST;
    foreach ($_FILES as $field => $f) {
        $files[$field] = ['name' => $f['name'], 'size' => $f['size'], 'error' => $f['error'],
            'md5' => $f['error'] === 0 ? md5_file($f['tmp_name']) : ''];
    }
} else {
    $params = json_decode(file_get_contents('php://input'), true);
    if (!is_array($params)) {
        echo json_encode(['code' => 20002, 'msg' => '数据格式错误']);
        return;
    }
}
$received = isset($params['url']) ? $params['url'] : '';
unset($params['url']);
$json = json_encode($params);
if ($json === false || $received !== substr(md5($json), 1, 8)) {
    echo json_encode(['code' => 10001, 'msg' => 'url验证失败', 'data' => ['json' => $json]]);
    return;
}
echo json_encode(['code' => 0, 'msg' => 'SUCCESS', 'data' => ['json' => $json, 'params' => $params, 'files' => $files]]);
