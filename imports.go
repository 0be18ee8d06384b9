package digelao

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/digelao-go/digelao/internal/flex"
)

// ImportCounts are the counters of an import (import_mark): pushed by 5.7.15 and returned by
// 5.7.4. The documentation names the counters but cuts off their descriptions; the meanings of
// the pinyin ones are inferred. Each may arrive as a number or a string.
type ImportCounts struct {
	Total     int `json:"totalCount"`     // 导入总数
	Success   int `json:"successCount"`   // 成功
	Fail      int `json:"failCount"`      // 失败
	Blacklist int `json:"blacklistCount"` // on the do-not-call list
	Repeat    int `json:"repeatCount"`    // duplicates
	Filter    int `json:"filterCount"`    // filtered out
	Invalid   int `json:"shiCount"`       // [inferred: 失效, numbers judged invalid]
	Empty     int `json:"kongCount"`      // [inferred: 空号, numbers that do not exist]
	Suspended int `json:"tingjiCount"`    // [inferred: 停机, out of service]
	NotInDB   int `json:"kuwuCount"`      // [inferred: 库无, unknown to the number database]
	Silent    int `json:"chenmoCount"`    // [inferred: 沉默号, long-inactive numbers]
	Risky     int `json:"fenxianCount"`   // [inferred: 风险号, risk-flagged numbers]
	OverLimit int `json:"chaopinCount"`   // [inferred: 超频, called too often]
}

var importCountsCodec = flex.NewCodec[ImportCounts]()

// UnmarshalJSON decodes the counters. A counter that is not a number is an error.
func (c *ImportCounts) UnmarshalJSON(b []byte) error { return importCountsCodec.Decode(b, c) }

// MarshalJSON writes the counters with the platform's member names.
func (c ImportCounts) MarshalJSON() ([]byte, error) { return importCountsCodec.Encode(&c) }

// RejectedRow is a row an import refused, with its original (Chinese-keyed) columns.
type RejectedRow map[string]string

// UnmarshalJSON reads the columns, whose values may arrive as strings, numbers or null.
func (r *RejectedRow) UnmarshalJSON(b []byte) error {
	var cols map[string]json.RawMessage
	if err := json.Unmarshal(b, &cols); err != nil {
		return err
	}
	*r = make(RejectedRow, len(cols))
	for k, v := range cols {
		s, err := flex.Text(v)
		if err != nil {
			return err
		}
		(*r)[k] = s
	}
	return nil
}

// ImportInfo is the result of an import (5.7.4).
type ImportInfo struct {
	Percent  float64       `json:"import_percent"` // 100 when done (an integer here, unlike 5.7.3's "0%")
	Batch    string        `json:"batch"`
	Mark     string        `json:"mark"`
	Counts   ImportCounts  `json:"import_mark"`
	Rejected []RejectedRow `json:"import_fail_data"` // the rows the import refused

	Extra map[string]json.RawMessage `json:"-"` // marshalled inline
	Raw   json.RawMessage            `json:"-"` // not marshalled
}

var importInfoCodec = flex.NewCodec[ImportInfo]()

// UnmarshalJSON decodes the result tolerantly.
func (i *ImportInfo) UnmarshalJSON(b []byte) error { return importInfoCodec.Decode(b, i) }

// MarshalJSON writes the result with the platform's member names.
func (i ImportInfo) MarshalJSON() ([]byte, error) { return importInfoCodec.Encode(&i) }

// ImportResult is the result of an asynchronous import (Platform API 5.7.15 异步导入推送): the
// counters on success, or the reason it failed. The page says import_mark holds one or the other;
// a reason is read from a JSON string that does not hold the counters [inferred].
type ImportResult struct {
	TaskSN  string       // dial_task_main_sn
	Counts  ImportCounts // import_mark, on success
	Failure string       // import_mark, when the import failed; empty on success

	Extra map[string]json.RawMessage // members without a field above; marshalled inline
	// Raw is the push exactly as received, as CallRecord.Raw: JSON only when Raw[0] is '{'. It is
	// not marshalled.
	Raw json.RawMessage
}

// importResultWire is ImportResult as it travels: import_mark holds the counters or the reason.
type importResultWire struct {
	TaskSN string          `json:"dial_task_main_sn"`
	Mark   json.RawMessage `json:"import_mark"`

	Extra map[string]json.RawMessage `json:"-"`
	Raw   json.RawMessage            `json:"-"`
}

var importResultCodec = flex.NewCodec[importResultWire]()

// UnmarshalJSON decodes the result: import_mark as the counters (an object, or a string holding
// one), else as the reason of a failure.
func (r *ImportResult) UnmarshalJSON(b []byte) error {
	var w importResultWire
	if err := importResultCodec.Decode(b, &w); err != nil {
		return err
	}
	*r = ImportResult{TaskSN: w.TaskSN, Extra: w.Extra, Raw: w.Raw}
	mark := w.Mark
	var s string
	if json.Unmarshal(mark, &s) == nil { // a string: the counters as JSON, or a reason
		if !strings.HasPrefix(strings.TrimSpace(s), "{") {
			r.Failure = s
			return nil
		}
		mark = json.RawMessage(s)
	}
	if isEmpty(mark) {
		return nil
	}
	if mark[0] != '{' {
		r.Failure = string(mark) // a number or a list: kept as the reason, as written
		return nil
	}
	return r.Counts.UnmarshalJSON(mark)
}

// MarshalJSON writes the result as the platform pushes it: import_mark holds Failure when it is
// set, else the counters.
func (r ImportResult) MarshalJSON() ([]byte, error) {
	w := importResultWire{TaskSN: r.TaskSN, Extra: r.Extra}
	var err error
	if r.Failure != "" {
		w.Mark, err = json.Marshal(r.Failure)
	} else {
		w.Mark, err = r.Counts.MarshalJSON()
	}
	if err != nil {
		return nil, err
	}
	return importResultCodec.Encode(&w)
}

// TaskAnalytics is a task's statistics, pushed at the interval set in the platform's console
// (Platform API 7.7 推送数据分析数据).
type TaskAnalytics struct {
	Task      AnalyticsTask `json:"dial_task_main_data"`
	HangUps   []HangUpStat  `json:"hang_up_data"`    // where in the script callees hung up (跳出率)
	Unmatched []string      `json:"out_of_key_data"` // what callees said that the script did not match (待学习问题)

	Extra map[string]json.RawMessage `json:"-"` // members without a field above; marshalled inline
	// Raw is the push exactly as received, as CallRecord.Raw: JSON only when Raw[0] is '{'. It is
	// not marshalled.
	Raw json.RawMessage `json:"-"`
}

var taskAnalyticsCodec = flex.NewCodec[TaskAnalytics]()

// UnmarshalJSON decodes the analytics tolerantly.
func (a *TaskAnalytics) UnmarshalJSON(b []byte) error { return taskAnalyticsCodec.Decode(b, a) }

// MarshalJSON writes the analytics with the platform's member names.
func (a TaskAnalytics) MarshalJSON() ([]byte, error) { return taskAnalyticsCodec.Encode(&a) }

// AnalyticsTask is the task part of TaskAnalytics. Members without a field here are kept in
// TaskAnalytics.Raw.
type AnalyticsTask struct {
	TaskSN         string     `json:"dial_task_main_sn"`
	Source         string     `json:"source"`     // the task's name
	ProjectSN      string     `json:"project_sn"` // the script template
	ProjectCaption string     `json:"project_caption"`
	Status         TaskStatus `json:"status"`      // [inferred: as 5.1 lists it]
	Total          int        `json:"total_count"` // numbers in the task
	Sent           int        `json:"send_count"`  // numbers dialled
	Success        int        `json:"success"`     // calls connected [inferred]
	Operator       string     `json:"operator"`
	UserName       string     `json:"user_name"`
	Remark         string     `json:"remark"`
	StartedAt      time.Time  `json:"started_at"`
	StoppedAt      time.Time  `json:"stoped_at"` // (sic)
}

// HangUpStat is how many calls ended at one node of the script.
type HangUpStat struct {
	Node  string  `json:"hangUpName"`
	Count int     `json:"hangUpCount"`
	Rate  float64 `json:"hangUpRate"` // percent
}
