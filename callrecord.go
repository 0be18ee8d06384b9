package digelao

import (
	"encoding/json"
	"time"

	"github.com/digelao-go/digelao/internal/flex"
)

// CallRecord is one call's record (流水): a row of 6.1 /api/crmList and the body of the 6.6.1
// push. Every field is optional on the wire; numbers may arrive as strings and text as null.
// Fields after the documented samples are inferred from the 6.1 rows clients read. Raw keeps the
// record exactly as received, and Extra every member this type has no field for (customer
// template columns, fields the documentation does not show, a member whose name matches a field's
// only when case is ignored), so nothing is lost. In a push, SN too is exactly as received —
// nothing trimmed, a byte that is not UTF-8 kept rather than replaced with U+FFFD — since
// PushHandler de-duplicates by it: two records share a key only if their SN are equal.
type CallRecord struct {
	ID                 int64
	SN                 string // 流水 sn, "account|<32 hex>": the de-duplication key and 6.4's accounts_sn
	Phone              string // the called number
	Name               string // the customer's name from the import
	UserSN             string // the sub-account (AI seat) that called
	UserName           string
	ParentSN           string // the main account's user name (not a SYSUSER sn)
	TeamSN             string
	TeamName           string
	TaskSN             string // dial_task_main_sn
	Source             string // the task's name
	ProjectSN          string // the script template
	ProjectCaption     string
	Address            string
	Unit               string // company name
	UnitPhone          string
	RecordPath         string // recordpath: the recording's root, for Records.Download
	RecordFile         string // recordfile: the recording's path; empty when the call did not connect
	Status             string // 意向等级, the AI's intent grade (A, B, …); see Intent
	StatusManual       string // 人工分类, the grade a person gave
	Operator           string
	Mark               string // 备注
	HangupSerial       string // hangup_serial_number
	TalkTime           int    // talktimes, seconds of conversation; 0 when the call did not connect
	TurnCount          int    // dialogue rounds
	AsksCount          int
	Score              float64
	TransferredToAgent bool // is_transfertoagent
	CreatedAt          time.Time
	UpdatedAt          time.Time
	StartedAt          time.Time // dialling started
	ConnectedAt        time.Time // answered; zero when not connected
	DisconnectedAt     time.Time
	PushedAt           time.Time
	ListenedAt         time.Time
	InterventionAt     time.Time

	Extra map[string]json.RawMessage // members without a field above, as JSON

	// Raw is the record exactly as received. It is JSON — the object, without a BOM or white
	// space around it — from 6.1 and from a push whose body is JSON, and then Raw[0] is '{'. From
	// a push whose body is a form it is that body, which is not JSON: "a=1&b=2", or a multipart
	// body (its first line names the boundary). A push's Raw keeps its charset: GBK stays GBK
	// (PushHandler.Charset says how the fields above were read). Check Raw[0] before you store Raw
	// as JSON, json.Unmarshal it, or json.Marshal the record (which fails on a json.RawMessage
	// that is not JSON); the fields and Extra are decoded UTF-8 text in either case.
	Raw json.RawMessage
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

// callRecordWire is the wire form of CallRecord.
type callRecordWire struct {
	ID             flex.Int    `json:"id"`
	SN             flex.String `json:"sn"`
	Phone          flex.String `json:"phone"`
	Name           flex.String `json:"name"`
	UserSN         flex.String `json:"user_sn"`
	UserName       flex.String `json:"user_name"`
	ParentSN       flex.String `json:"parent_sn"`
	TeamSN         flex.String `json:"team_sn"`
	TeamName       flex.String `json:"team_name"`
	TaskSN         flex.String `json:"dial_task_main_sn"`
	Source         flex.String `json:"source"`
	ProjectSN      flex.String `json:"project_sn"`
	ProjectCaption flex.String `json:"project_caption"`
	Address        flex.String `json:"address"`
	Unit           flex.String `json:"unit"`
	UnitPhone      flex.String `json:"unit_phone"`
	RecordPath     flex.String `json:"recordpath"`
	RecordFile     flex.String `json:"recordfile"`
	Status         flex.String `json:"status"`
	StatusManual   flex.String `json:"status_manual"`
	Operator       flex.String `json:"operator"`
	Mark           flex.String `json:"mark"`
	HangupSerial   flex.String `json:"hangup_serial_number"`
	TalkTime       flex.Int    `json:"talktimes"`
	TurnCount      flex.Int    `json:"turn_count"`
	AsksCount      flex.Int    `json:"asks_count"`
	Score          flex.Float  `json:"score"`
	Transferred    flex.Int    `json:"is_transfertoagent"`
	CreatedAt      flex.Time   `json:"created_at"`
	UpdatedAt      flex.Time   `json:"updated_at"`
	StartedAt      flex.Time   `json:"started_at"`
	ConnectedAt    flex.Time   `json:"connected_at"`
	DisconnectedAt flex.Time   `json:"disconnected_at"`
	PushedAt       flex.Time   `json:"pushed_at"`
	ListenedAt     flex.Time   `json:"listened_at"`
	InterventionAt flex.Time   `json:"intervention_at"`
}

// callRecordKeys are the wire names callRecordWire decodes; the others go to Extra.
var callRecordKeys = jsonKeys(callRecordWire{})

// UnmarshalJSON decodes a record tolerantly; see CallRecord.
func (r *CallRecord) UnmarshalJSON(b []byte) error {
	return r.decode(b, objectMembers(b))
}

// decode decodes the record b, already split into its members all (see decodeMembers).
func (r *CallRecord) decode(b []byte, all map[string]json.RawMessage) error {
	var w callRecordWire
	extra, raw, err := decodeMembers(b, all, &w, callRecordKeys)
	if err != nil {
		return err
	}
	*r = CallRecord{
		ID: int64(w.ID), SN: string(w.SN), Phone: string(w.Phone), Name: string(w.Name),
		UserSN: string(w.UserSN), UserName: string(w.UserName), ParentSN: string(w.ParentSN),
		TeamSN: string(w.TeamSN), TeamName: string(w.TeamName), TaskSN: string(w.TaskSN),
		Source: string(w.Source), ProjectSN: string(w.ProjectSN), ProjectCaption: string(w.ProjectCaption),
		Address: string(w.Address), Unit: string(w.Unit), UnitPhone: string(w.UnitPhone),
		RecordPath: string(w.RecordPath), RecordFile: string(w.RecordFile), Status: string(w.Status),
		StatusManual: string(w.StatusManual), Operator: string(w.Operator), Mark: string(w.Mark),
		HangupSerial: string(w.HangupSerial), TalkTime: int(w.TalkTime), TurnCount: int(w.TurnCount),
		AsksCount: int(w.AsksCount), Score: float64(w.Score), TransferredToAgent: w.Transferred == 1,
		CreatedAt: w.CreatedAt.Time, UpdatedAt: w.UpdatedAt.Time, StartedAt: w.StartedAt.Time,
		ConnectedAt: w.ConnectedAt.Time, DisconnectedAt: w.DisconnectedAt.Time, PushedAt: w.PushedAt.Time,
		ListenedAt: w.ListenedAt.Time, InterventionAt: w.InterventionAt.Time,
		Extra: extra, Raw: raw,
	}
	return nil
}
