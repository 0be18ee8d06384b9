// Package pushsample builds the bodies of the platform's pushes as the platform sends them,
// PHP-encoded. digelaotest exports them to users' tests; the SDK's own tests call them here, where
// they do not depend on the SDK's types.
package pushsample

import (
	"strconv"
	"strings"

	"github.com/digelao-go/digelao/internal/phpjson"
)

// TaskSN is the task of CallRecord.
const TaskSN = "dial_task_main_sn|1427a04cae36a5b7161c0b04b9206fa4"

// CallRecord returns the body of a call-record push (6.6.1) for the record sn and the number
// phone. It follows the documented sample (6.6.2), then adds the 6.1 fields the sample is cut off
// before [inferred]: a connected call of 35 seconds, intent grade B, with a recording.
func CallRecord(sn, phone string) []byte {
	return Object(
		"id", 12003, "sn", sn, "user_sn", "SYSUSER|317d5a0c2e8b4f6a9d1c3e5b7a9f0d2e", "user_name", "zzh1",
		"parent_sn", "zzh", "team_sn", "SON", "team_name", "人工智能客户组", "created_at", "2024-07-02 15:03:24",
		"updated_at", "2024-07-02 15:03:24", "name", "张三", "phone", phone, "address", "", "unit", "",
		"unit_phone", nil, "project_sn", "projects|d98f3c1a5e7b9d2f4a6c8e0b1d3f5a7c",
		"project_caption", "zzh移动催缴固定话术", "dial_task_main_sn", TaskSN, "source", "回访任务",
		"started_at", "2024-07-02 15:02:41", "connected_at", "2024-07-02 15:02:49",
		"disconnected_at", "2024-07-02 15:03:24", "talktimes", 35, "status", "B", "status_manual", "",
		"operator", "zzh", "mark", "", "is_transfertoagent", 0, "hangup_serial_number", "",
		"recordpath", "/mnt/record", "recordfile", "/mnt/record/20240702/1502/20240702150249_zzh_zzh1.wav",
		"turn_count", 3, "asks_count", 3, "score", 0,
	)
}

// CountNames are the counters of an import result, in the documented sample's order.
var CountNames = [...]string{"totalCount", "failCount", "blacklistCount", "repeatCount", "successCount",
	"filterCount", "shiCount", "kongCount", "tingjiCount", "kuwuCount", "chenmoCount", "fenxianCount", "chaopinCount"}

// ImportResult returns the body of an import-result push (5.7.15) for taskSN: import_mark holds
// failure when it is set, else every counter of CountNames, in its order, from counts (0 when
// absent).
func ImportResult(taskSN, failure string, counts map[string]int) []byte {
	var mark any = failure
	if failure == "" {
		kv := make([]any, 0, 2*len(CountNames))
		for _, name := range CountNames {
			kv = append(kv, name, counts[name])
		}
		mark = Raw(Object(kv...))
	}
	return Object("dial_task_main_sn", taskSN, "import_mark", mark)
}

// TaskAnalytics returns the body of a task-analytics push (7.7) for taskSN, modelled on the
// documented sample.
func TaskAnalytics(taskSN string) []byte {
	task := Object("dial_task_main_sn", taskSN, "source", "回访任务",
		"project_sn", "projects|d98f3c1a5e7b9d2f4a6c8e0b1d3f5a7c", "project_caption", "zzh移动催缴固定话术",
		"started_at", "2019-07-24 15:37:40", "stoped_at", "2019-09-11 13:59:02", "status", 1, "total_count", 15,
		"send_count", 15, "success", 8, "operator", "test", "user_name", "test", "remark", nil)
	hangUp := Object("hangUpCount", 5, "hangUpRate", Raw("83.33"), "hangUpName", "01打招呼+开场白")
	return Object("dial_task_main_data", Raw(task),
		"hang_up_data", Raw("["+string(hangUp)+"]"),
		"out_of_key_data", Raw("["+String("就是咨询,谢谢。")+"]"))
}

// Raw is JSON that Object writes as it is.
type Raw string

// Object writes key, value pairs as a JSON object the way PHP's json_encode does. Values are
// strings, ints, nil or Raw.
func Object(kv ...any) []byte {
	b := []byte{'{'}
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, String(kv[i].(string))...)
		b = append(b, ':')
		switch v := kv[i+1].(type) {
		case string:
			b = append(b, String(v)...)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case Raw:
			b = append(b, v...)
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

// String returns s as PHP writes a JSON string; invalid UTF-8 is replaced first, as json_encode
// would fail on it.
func String(s string) string {
	b, _ := phpjson.AppendString(nil, strings.ToValidUTF8(s, "\uFFFD"))
	return string(b)
}
