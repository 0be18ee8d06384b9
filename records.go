package digelao

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/digelao-go/digelao/internal/flex"
)

// RecordsService covers platform section 6.x 客户管理: call records, dialogue and recordings.
type RecordsService service

// CallResult is why a call did not connect, as the platform's number-status check reports it
// (6.5 号码状态说明). Its name is what RedialRequest's and Recall's Reasons take.
type CallResult int

// The call results of 6.5. The table is cut off after 9; later ids are unknown.
const (
	ResultPowerOff     CallResult = 2 // 关机: phone switched off
	ResultNoSuchNumber CallResult = 3 // 空号: number does not exist
	ResultOutOfService CallResult = 4 // 停机: suspended for long non-payment
	ResultOnCall       CallResult = 5 // 正在通话中: busy; most switches also report rejections and no answer so
	ResultRejected     CallResult = 6 // 用户拒接: rejected (rarely reported as such)
	ResultUnreachable  CallResult = 7 // 无法接通: unreachable, e.g. no signal
	ResultSuspended    CallResult = 8 // 暂停服务: recently unpaid, incoming calls barred
	ResultBusy         CallResult = 9 // 用户正忙: user busy
)

var callResultNames = map[CallResult]string{
	ResultPowerOff: "关机", ResultNoSuchNumber: "空号", ResultOutOfService: "停机", ResultOnCall: "正在通话中",
	ResultRejected: "用户拒接", ResultUnreachable: "无法接通", ResultSuspended: "暂停服务", ResultBusy: "用户正忙",
}

// String returns the platform's name of the result, e.g. "关机".
func (r CallResult) String() string {
	if n, ok := callResultNames[r]; ok {
		return n
	}
	return "CallResult(" + strconv.Itoa(int(r)) + ")"
}

// RecordListOptions filters call records (6.1). Zero values filter nothing; a zero bound of a
// range is left open. The page documents a few parameters and is cut off; the others are those
// client code sends, and their exact semantics are inferred from their names.
type RecordListOptions struct {
	ListOptions                                            // PerPage 0: the platform's default, 10
	CreatedFrom, CreatedTo                   time.Time     // start_create_at, end_create_at (China time on the wire)
	Phone                                    string        // phone: exactly this number, 5 to 20 digits (spaces and dashes dropped)
	TaskSN                                   string        // dial_task_main_sn
	Intents                                  []IntentGrade // the AI's grade is one of these (status_search "status")
	ManualIntents                            []IntentGrade // the grade a person gave is one of these ("status_manual")
	IDs                                      []int64       // ids_json, as JSON text ("[\"5\",\"6\"]"): these record ids
	ProjectSN                                string        // project_sn: the script template
	NameOrPhone                              string        // namephone: part of the customer's name or number
	TalkTimeMin, TalkTimeMax                 int           // talktimes_min/max, seconds
	TurnCountMin, TurnCountMax               int           // turn_count_min/max: dialogue rounds
	ScoreMin, ScoreMax                       int           // score_min/max
	AsksCountMin, AsksCountMax               int           // asks_count_min/max
	InterventionTimeMin, InterventionTimeMax int           // fs_intervention_time_min/max
	WarningTimesMin, WarningTimesMax         int           // warning_times_min/max
	HangupSerial                             string        // hangup_serial_number
	QCStatus                                 string        // qc_status: quality-check state
	ReturnVisit                              string        // return_visit
	AreaCode                                 string        // area_code
	SeatingAssistance                        string        // seating_assistance
	WarningResults                           string        // warning_results
	DynamicLabelling                         string        // dynamic_labelling
	Mark                                     string        // mark: the record's note
}

// params returns the filter's parameters: the page example's in its order, then the others, then
// paging last as the example does.
func (o *RecordListOptions) params() (*Params, error) {
	if len(o.Intents) > 0 && len(o.ManualIntents) > 0 {
		return nil, invalid("Intents", "filter on Intents or on ManualIntents, not both (the platform takes one)")
	}
	if err := checkPeriod("CreatedTo", o.CreatedFrom, o.CreatedTo); err != nil {
		return nil, err
	}
	p := NewParams()
	setTime(p, "start_create_at", o.CreatedFrom)
	setTime(p, "end_create_at", o.CreatedTo)
	if o.Phone != "" {
		phone, err := phoneNumber("Phone", o.Phone)
		if err != nil {
			return nil, err
		}
		p.Set("phone", phone)
	}
	setText(p, "dial_task_main_sn", o.TaskSN)
	name, field, grades := "Intents", "status", o.Intents
	if len(o.ManualIntents) > 0 {
		name, field, grades = "ManualIntents", "status_manual", o.ManualIntents
	}
	if len(grades) > 0 {
		vals := make([]string, len(grades))
		for i, g := range grades {
			if strings.TrimSpace(string(g)) == "" {
				return nil, invalid(fmt.Sprintf("%s[%d]", name, i), "is an empty grade")
			}
			vals[i] = string(g)
		}
		p.Set("status_search", field).Set("status_value", vals)
	}
	if len(o.IDs) > 0 {
		// A string parameter the platform json_decodes, as add_json is [inferred: the name and
		// the client code that sends it as a string].
		ids := make([]string, len(o.IDs))
		for i, id := range o.IDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		js, _ := json.Marshal(ids) // a list of strings always marshals
		p.Set("ids_json", string(js))
	}
	setText(p, "project_sn", o.ProjectSN)
	setText(p, "namephone", o.NameOrPhone)
	for _, r := range []struct {
		name, key string // the option's name (without Min/Max) and the parameter's (without _min/_max)
		min, max  int
	}{
		{"TalkTime", "talktimes", o.TalkTimeMin, o.TalkTimeMax},
		{"TurnCount", "turn_count", o.TurnCountMin, o.TurnCountMax},
		{"Score", "score", o.ScoreMin, o.ScoreMax},
		{"AsksCount", "asks_count", o.AsksCountMin, o.AsksCountMax},
		{"InterventionTime", "fs_intervention_time", o.InterventionTimeMin, o.InterventionTimeMax},
		{"WarningTimes", "warning_times", o.WarningTimesMin, o.WarningTimesMax},
	} {
		switch {
		case r.min < 0:
			return nil, invalid(r.name+"Min", "must not be negative, got %d", r.min)
		case r.max < 0:
			return nil, invalid(r.name+"Max", "must not be negative, got %d", r.max)
		case r.max > 0 && r.min > r.max:
			return nil, invalid(r.name+"Max", "%d is below %sMin, %d", r.max, r.name, r.min)
		}
		if r.min > 0 {
			p.Set(r.key+"_min", r.min)
		}
		if r.max > 0 {
			p.Set(r.key+"_max", r.max)
		}
	}
	for _, kv := range [...][2]string{
		{"hangup_serial_number", o.HangupSerial}, {"qc_status", o.QCStatus}, {"return_visit", o.ReturnVisit},
		{"area_code", o.AreaCode}, {"seating_assistance", o.SeatingAssistance},
		{"warning_results", o.WarningResults}, {"dynamic_labelling", o.DynamicLabelling}, {"mark", o.Mark},
	} {
		setText(p, kv[0], kv[1])
	}
	if err := o.set(p); err != nil {
		return nil, err
	}
	return p, nil
}

var crmListEndpoint = endpoint{method: http.MethodPost, path: "/api/crmList", read: true}

// List returns a page of call records, newest first [inferred], and the number of records that
// match.
//
// Platform API 6.1 获取通话流水 (POST /api/crmList). The grade filter is sent in the page example's
// form, status_search naming the field ("status" or "status_manual") and status_value the grades
// as a list; client code shows an older form (status "A,B") that is not used. Records are the
// same as the 6.6.1 push.
func (s *RecordsService) List(ctx context.Context, opts *RecordListOptions) ([]*CallRecord, int, error) {
	if opts == nil {
		opts = &RecordListOptions{}
	}
	pg, err := s.page(ctx, opts)
	return pg.items, pg.total, err
}

func (s *RecordsService) page(ctx context.Context, opts *RecordListOptions) (page[*CallRecord], error) {
	p, err := opts.params()
	if err != nil {
		return page[*CallRecord]{}, err
	}
	return fetchPage(ctx, s.client, crmListEndpoint, p, recordPages, (*listPage[*CallRecord]).page)
}

var recordPages = flex.NewCodec[listPage[*CallRecord]](flex.Inline[CallRecord]())

// All returns every record that matches opts, from page opts.Page on, fetching page after page
// (DefaultAllPageSize a page unless opts.PerPage is set) until the reply's total is reached. Pages
// that end before the total, or a platform that serves the same page again, end it with an error
// matching ErrIncomplete: All never returns fewer records than the platform counted without saying
// so. Any other error, and ctx ending, end it too; errors come with a nil record.
//
// Records arrive newest first, so one written while All pages shifts the records after it by a
// row, and All ends with ErrIncomplete once the pages are read (the list changed): bound
// CreatedTo in the past for a list that holds still, as RecordSync does.
//
// Platform API 6.1 获取通话流水 (POST /api/crmList); see List.
func (s *RecordsService) All(ctx context.Context, opts *RecordListOptions) iter.Seq2[*CallRecord, error] {
	o := RecordListOptions{}
	if opts != nil {
		o = *opts
	}
	return pageAll(ctx, "call records", &o.ListOptions, func(ctx context.Context, lo *ListOptions) (page[*CallRecord], error) {
		o.ListOptions = *lo
		return s.page(ctx, &o)
	}, recordKey)
}

// recordKey identifies a call record for paging.
func recordKey(r *CallRecord) string { return r.SN + "|" + strconv.FormatInt(r.ID, 10) }

// DialogueTurn is one utterance of a call's dialogue (6.4): the robot's (Customer false) or the
// customer's. Fields after the page's cut-off are kept in Extra, and the turn in Raw.
type DialogueTurn struct {
	Node        string `json:"title"`        // the script node, e.g. "01问候语+开场白"
	Text        string `json:"caption"`      // what the robot said
	Answer      string `json:"answer"`       // what the customer said
	Customer    bool   `json:"is_answer"`    // the customer's turn
	RobotAudio  string `json:"vocfile"`      // the robot's recording on the server
	Segment     string `json:"fenduanluyin"` // the segment recording, for DownloadSegment
	OutType     string `json:"outType"`
	Score       string `json:"score"`
	Label       string `json:"labelling"`
	ProcessCode string `json:"process_code"`

	Extra map[string]json.RawMessage `json:"-"` // marshalled inline
	Raw   json.RawMessage            `json:"-"` // not marshalled
}

var dialogueTurnCodec = flex.NewCodec[DialogueTurn]()

// UnmarshalJSON decodes a turn tolerantly; see DialogueTurn.
func (t *DialogueTurn) UnmarshalJSON(b []byte) error { return dialogueTurnCodec.Decode(b, t) }

// MarshalJSON writes the turn with the platform's member names.
func (t DialogueTurn) MarshalJSON() ([]byte, error) { return dialogueTurnCodec.Encode(&t) }

// Dialogue is a call's conversation: rounds of turns, as 6.4 groups them.
type Dialogue struct {
	Rounds [][]DialogueTurn `json:"fragment"`
}

var dialogueCodec = flex.NewCodec[Dialogue]()

// Turns returns every turn in order.
func (d *Dialogue) Turns() []DialogueTurn {
	var out []DialogueTurn
	for _, r := range d.Rounds {
		out = append(out, r...)
	}
	return out
}

var dialogueEndpoint = endpoint{method: http.MethodPost, path: "/api/cdrshow", read: true}

// Dialogue returns the conversation of the call record recordSN (a CallRecord's SN, "account|…")
// answered at connectedAt (its ConnectedAt). A call that did not connect has an empty dialogue.
//
// Platform API 6.4 获取单个通话对话内容 (POST /api/cdrshow): accounts_sn and connected_at ("Y-m-d
// H:i:s", China time). The reply's data.fragment holds rounds of turns; the turn fields after the
// page's cut-off are not known.
func (s *RecordsService) Dialogue(ctx context.Context, recordSN string, connectedAt time.Time) (*Dialogue, error) {
	if err := required("recordSN", recordSN); err != nil {
		return nil, err
	}
	if connectedAt.IsZero() {
		return nil, invalid("connectedAt", "is required (the call must have connected)")
	}
	p := NewParams().Set("accounts_sn", recordSN).Set("connected_at", platformTime(connectedAt))
	var d Dialogue
	if err := fetchWith(ctx, s.client, dialogueEndpoint, p, dialogueCodec, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

var (
	downloadEndpoint = endpoint{method: http.MethodGet, path: "/api/cdrDownload", read: true, stream: true}
	segmentEndpoint  = endpoint{method: http.MethodGet, path: "/api/cdrFragmentDownload", read: true, stream: true}
	// multiServerEndpoint signs with its own secret rather than the common parameters (§1.4).
	multiServerEndpoint = endpoint{method: http.MethodGet, path: "/api/multiServerCdrDownload", read: true, stream: true, noAuth: true}
)

// Download streams the recording recordFile (under recordPath) into w and returns the bytes
// written; both come from a CallRecord (RecordPath, RecordFile). Memory use does not grow with
// the recording's size.
//
// A reply that is not a file — a JSON error or an HTML page — is an *APIError and nothing is
// written. Connection errors, 429 and 5xx are retried like other reads, but only until the
// platform starts sending the file: once bytes have gone to w nothing is retried, and an error
// then (a dropped connection, ctx ending) is returned with the count written so far.
//
// Platform API 6.2 获得录音播放源接口 (GET /api/cdrDownload): recordpath and recordfile, both
// required.
func (s *RecordsService) Download(ctx context.Context, recordPath, recordFile string, w io.Writer) (int64, error) {
	if err := checkRecording(recordPath, recordFile); err != nil {
		return 0, err
	}
	p := NewParams().Set("recordpath", recordPath).Set("recordfile", recordFile)
	return s.client.download(ctx, downloadEndpoint, p, w)
}

// checkRecording checks a recording's path and file, both required by 6.2 and 6.9.
func checkRecording(recordPath, recordFile string) error {
	if strings.TrimSpace(recordFile) == "" {
		return invalid("recordFile", "is required (a call that did not connect has no recording)")
	}
	return required("recordPath", recordPath)
}

// DownloadSegment streams one segment recording — a DialogueTurn's Segment — into w, as Download.
//
// Platform API 6.3 获得分段录音播放源接口 (GET /api/cdrFragmentDownload): recordfile.
func (s *RecordsService) DownloadSegment(ctx context.Context, segment string, w io.Writer) (int64, error) {
	if err := required("segment", segment); err != nil {
		return 0, err
	}
	return s.client.download(ctx, segmentEndpoint, NewParams().Set("recordfile", segment), w)
}

// DownloadMultiServer streams a recording into w as Download does, through the endpoint for
// deployments whose recordings are spread over several servers.
//
// Platform API 6.9 多服务器获得录音播放源接口 (GET /api/multiServerCdrDownload): recordpath,
// recordfile, api_key, timestamp and secret = characters 2–9 of md5(api_key + timestamp), within
// five minutes of the platform's clock. The timestamp is sent as Unix seconds [inferred: the page
// says 当前时间戳]. The page's example is a copy of 6.2's, with user_sn and url: user_sn is sent
// first and url is added over every parameter as usual, so a deployment checking either form
// accepts the request [inferred].
func (s *RecordsService) DownloadMultiServer(ctx context.Context, recordPath, recordFile string, w io.Writer) (int64, error) {
	if err := checkRecording(recordPath, recordFile); err != nil {
		return 0, err
	}
	c := s.client
	for renewed := false; ; renewed = true {
		sess, err := c.auth.session(ctx)
		if err != nil {
			return 0, err
		}
		ts := strconv.FormatInt(c.auth.now().Unix(), 10)
		key := sess.APIKey.Value()
		p := NewParams().Set("user_sn", sess.UserSN).Set("api_key", key).
			Set("recordpath", recordPath).Set("recordfile", recordFile).
			Set("timestamp", ts).Set("secret", multiServerSecret(key, ts))
		n, err := c.download(ctx, multiServerEndpoint, p, w)
		if err == nil {
			return n, nil
		}
		if n > 0 || renewed || !c.auth.renewable(err) {
			return n, err // c.call redacted it
		}
		if _, err := c.auth.renew(ctx, sess); err != nil {
			return 0, err
		}
	}
}

// multiServerSecret is 6.9's secret: characters 2–9 of the lowercase hex md5 of apiKey+timestamp.
func multiServerSecret(apiKey, timestamp string) string {
	return signBytes([]byte(apiKey + timestamp))
}
