package digelao

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/digelao-go/digelao/internal/flex"
)

// CallRecord is one call's record (流水): a row of 6.1 /api/crmList and the body of the 6.6.1
// push. Every field is optional on the wire; numbers may arrive as strings and text as null.
// Fields after the documented samples are inferred from the 6.1 rows clients read. Extra keeps
// every member this type has no field for (customer template columns, fields the documentation
// does not show, a member whose name matches a field's only when case is ignored, a value that
// does not fit its field), so nothing is lost. Text keeps its bytes as received: SN, which
// PushHandler de-duplicates by, is never trimmed, and a byte that is not UTF-8 stays that byte.
//
// json.Marshal writes the record with the platform's member names, times in China time as
// "2006-01-02 15:04:05" and Extra's members inline, and json.Unmarshal reads that back to an equal
// record: store it, queue it, and read it back as it was pushed.
type CallRecord struct {
	ID                 int64     `json:"id"`
	SN                 string    `json:"sn"`    // 流水 sn, "account|<32 hex>": the de-duplication key and 6.4's accounts_sn
	Phone              string    `json:"phone"` // the called number
	Name               string    `json:"name"`  // the customer's name from the import
	UserSN             string    `json:"user_sn"`
	UserName           string    `json:"user_name"` // the sub-account (AI seat) that called
	ParentSN           string    `json:"parent_sn"` // the main account's user name (not a SYSUSER sn)
	TeamSN             string    `json:"team_sn"`
	TeamName           string    `json:"team_name"`
	TaskSN             string    `json:"dial_task_main_sn"`
	Source             string    `json:"source"`     // the task's name
	ProjectSN          string    `json:"project_sn"` // the script template
	ProjectCaption     string    `json:"project_caption"`
	Address            string    `json:"address"`
	Unit               string    `json:"unit"` // company name
	UnitPhone          string    `json:"unit_phone"`
	RecordPath         string    `json:"recordpath"`    // the recording's root, for Records.Download
	RecordFile         string    `json:"recordfile"`    // the recording's path; empty when the call did not connect
	Status             string    `json:"status"`        // 意向等级, the AI's intent grade (A, B, …); see Intent
	StatusManual       string    `json:"status_manual"` // 人工分类, the grade a person gave
	Operator           string    `json:"operator"`
	Mark               string    `json:"mark"` // 备注
	HangupSerial       string    `json:"hangup_serial_number"`
	TalkTime           int       `json:"talktimes"`  // seconds of conversation; 0 when the call did not connect
	TurnCount          int       `json:"turn_count"` // dialogue rounds
	AsksCount          int       `json:"asks_count"`
	Score              float64   `json:"score"`
	TransferredToAgent bool      `json:"is_transfertoagent"`
	ScreenPop          int       `json:"fs_push_screens"` // 1 popped up on a seat's screen, 2 popped up with no seat online
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	StartedAt          time.Time `json:"started_at"`   // dialling started
	ConnectedAt        time.Time `json:"connected_at"` // answered; zero when not connected
	DisconnectedAt     time.Time `json:"disconnected_at"`
	PushedAt           time.Time `json:"pushed_at"`
	ListenedAt         time.Time `json:"listened_at"`
	InterventionAt     time.Time `json:"intervention_at"`

	Extra map[string]json.RawMessage `json:"-"` // members without a field above; marshalled inline

	// Raw is the record exactly as received; it is not marshalled. It is JSON — the object,
	// without a BOM or white space around it — from 6.1 and from a push whose body is JSON, and
	// then Raw[0] is '{'. From a push whose body is a form it is that body, which is not JSON:
	// "a=1&b=2", or a multipart body (its first line names the boundary). A push's Raw keeps its
	// charset: GBK stays GBK (PushHandler.Charset says how the fields above were read). Check
	// Raw[0] before you store Raw as JSON or json.Unmarshal it; the fields and Extra are decoded
	// UTF-8 text in either case. The records of a page (6.1: Records.List and All) share the
	// page's reply instead of copying it: a record's Raw keeps the whole reply in memory, so
	// bytes.Clone it to keep the record long without its page.
	Raw json.RawMessage `json:"-"`
}

var callRecordCodec = flex.NewCodec[CallRecord]()

// UnmarshalJSON decodes a record tolerantly; see CallRecord.
func (r *CallRecord) UnmarshalJSON(b []byte) error { return callRecordCodec.Decode(b, r) }

// MarshalJSON writes the record with the platform's member names; see CallRecord.
func (r CallRecord) MarshalJSON() ([]byte, error) { return callRecordCodec.Encode(&r) }

// key returns prefix and the record's digest: 32 hex digits, the first 128 bits of the SHA-256 of
// "sn", a zero byte and the sn exactly as received; without an sn, of "id", a zero byte and the id
// in decimal; with neither (a broken or hostile platform), of "call", a zero byte and what makes
// the call that call — its number, task and times — so that the same call pushed and listed again
// is known, though a member such as a note changed in between; and with none of those either, of
// "json", a zero byte and the record's JSON. Its size is fixed, and it is one-to-one (but for a
// hash collision) over what it is made of: sn, id, call and content never meet. It is "" only for
// a record that does not encode.
func (r *CallRecord) key(prefix string) string {
	var buf [128]byte // what is hashed, then the key: on the stack for every sn but a long one
	of := buf[:0]
	switch {
	case r.SN != "":
		of = append(append(of, "sn\x00"...), r.SN...)
	case r.ID != 0:
		of = strconv.AppendInt(append(of, "id\x00"...), r.ID, 10)
	case r.Phone != "" && !r.CreatedAt.IsZero():
		of = append(append(of, "call\x00"...), r.Phone...)
		for _, part := range []string{r.TaskSN, r.CreatedAt.UTC().Format(time.RFC3339Nano), r.StartedAt.UTC().Format(time.RFC3339Nano),
			r.DisconnectedAt.UTC().Format(time.RFC3339Nano)} {
			of = append(append(of, 0), part...)
		}
	default:
		b, err := r.MarshalJSON()
		if err != nil {
			return ""
		}
		of = append(append(of, "json\x00"...), b...)
	}
	sum := sha256.Sum256(of)
	return string(hex.AppendEncode(append(buf[:0], prefix...), sum[:16]))
}

// Intent returns the AI's intent grade as an IntentGrade.
func (r *CallRecord) Intent() IntentGrade { return IntentGrade(r.Status) }

// Connected reports whether the call was answered.
func (r *CallRecord) Connected() bool { return r.TalkTime > 0 || !r.ConnectedAt.IsZero() }

// IntentGrade is the AI's intent grade of a call (意向等级), set by the script template. The
// documented examples use A to F; templates may define others.
type IntentGrade string

// The intent grades of the documentation's examples. [inferred: their meaning is set per template;
// the platform's default templates use A for the strongest interest.]
const (
	IntentA IntentGrade = "A"
	IntentB IntentGrade = "B"
	IntentC IntentGrade = "C"
	IntentD IntentGrade = "D"
	IntentE IntentGrade = "E"
	IntentF IntentGrade = "F"
)
