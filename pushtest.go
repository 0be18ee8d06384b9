package digelao

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/digelao-go/digelao/internal/phpjson"
)

// NewPushRequest returns an incoming request that delivers body to target as the platform does:
// POST, Content-Type application/json. It is for testing a PushHandler, or a handler that wraps
// one, in process:
//
//	rec := httptest.NewRecorder()
//	h.ServeHTTP(rec, digelao.NewPushRequest("/push?token="+token, digelao.SampleCallRecordPush(sn, phone)))
//	// rec.Body.String() == "SUCCESS"
//
// Like httptest.NewRequest it panics on a malformed target. To send a push over the network, POST
// the same body with an http.Client.
func NewPushRequest(target string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// SampleCallRecordPush returns the body of a call-record push (6.6.1) for the record sn and the
// number phone, PHP-encoded as the platform sends it. It follows the documented sample (6.6.2),
// then adds the 6.1 fields the sample is cut off before [inferred]: a connected call of 35
// seconds, intent grade B, with a recording.
func SampleCallRecordPush(sn, phone string) []byte {
	return phpObject(
		"id", 12003, "sn", sn, "user_sn", "SYSUSER|317d5a0c2e8b4f6a9d1c3e5b7a9f0d2e", "user_name", "zzh1",
		"parent_sn", "zzh", "team_sn", "SON", "team_name", "人工智能客户组", "created_at", "2024-07-02 15:03:24",
		"updated_at", "2024-07-02 15:03:24", "name", "张三", "phone", phone, "address", "", "unit", "",
		"unit_phone", nil, "project_sn", "projects|d98f3c1a5e7b9d2f4a6c8e0b1d3f5a7c",
		"project_caption", "zzh移动催缴固定话术", "dial_task_main_sn", sampleTaskSN, "source", "回访任务",
		"started_at", "2024-07-02 15:02:41", "connected_at", "2024-07-02 15:02:49",
		"disconnected_at", "2024-07-02 15:03:24", "talktimes", 35, "status", "B", "status_manual", "",
		"operator", "zzh", "mark", "", "is_transfertoagent", 0, "hangup_serial_number", "",
		"recordpath", "/mnt/record", "recordfile", "/mnt/record/20240702/1502/20240702150249_zzh_zzh1.wav",
		"turn_count", 3, "asks_count", 3, "score", 0,
	)
}

// SampleImportResultPush returns the body of an import-result push (5.7.15) for r.TaskSN, PHP-encoded
// as the platform sends it: import_mark holds r.Failure when it is set, else r.Counts, with the
// documented sample's keys in its order. r.Raw is not used.
func SampleImportResultPush(r ImportResult) []byte {
	var mark any = r.Failure
	if r.Failure == "" {
		c := r.Counts
		mark = rawJSON(phpObject("totalCount", c.Total, "failCount", c.Fail, "blacklistCount", c.Blacklist,
			"repeatCount", c.Repeat, "successCount", c.Success, "filterCount", c.Filter, "shiCount", c.Invalid,
			"kongCount", c.Empty, "tingjiCount", c.Suspended, "kuwuCount", c.NotInDB, "chenmoCount", c.Silent,
			"fenxianCount", c.Risky, "chaopinCount", c.OverLimit))
	}
	return phpObject("dial_task_main_sn", r.TaskSN, "import_mark", mark)
}

// SampleTaskAnalyticsPush returns the body of a task-analytics push (7.7) for taskSN, PHP-encoded,
// modelled on the documented sample.
func SampleTaskAnalyticsPush(taskSN string) []byte {
	task := phpObject("dial_task_main_sn", taskSN, "source", "回访任务",
		"project_sn", "projects|d98f3c1a5e7b9d2f4a6c8e0b1d3f5a7c", "project_caption", "zzh移动催缴固定话术",
		"started_at", "2019-07-24 15:37:40", "stoped_at", "2019-09-11 13:59:02", "status", 1, "total_count", 15,
		"send_count", 15, "success", 8, "operator", "test", "user_name", "test", "remark", nil)
	hangUp := phpObject("hangUpCount", 5, "hangUpRate", rawJSON("83.33"), "hangUpName", "01打招呼+开场白")
	return phpObject("dial_task_main_data", rawJSON(task),
		"hang_up_data", rawJSON("["+string(hangUp)+"]"),
		"out_of_key_data", rawJSON("["+phpString("就是咨询,谢谢。")+"]"))
}

// sampleTaskSN is the task of SampleCallRecordPush.
const sampleTaskSN = "dial_task_main_sn|1427a04cae36a5b7161c0b04b9206fa4"

// rawJSON is JSON that phpObject writes as it is.
type rawJSON string

// phpObject writes key, value pairs as a JSON object the way PHP's json_encode does. Values are
// strings, ints, nil or rawJSON.
func phpObject(kv ...any) []byte {
	b := []byte{'{'}
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, phpString(kv[i].(string))...)
		b = append(b, ':')
		switch v := kv[i+1].(type) {
		case string:
			b = append(b, phpString(v)...)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case rawJSON:
			b = append(b, v...)
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

// phpString returns s as PHP writes a JSON string; invalid UTF-8 is replaced first, as
// json_encode would fail on it.
func phpString(s string) string {
	b, _ := phpjson.AppendString(nil, strings.ToValidUTF8(s, "\uFFFD"))
	return string(b)
}
