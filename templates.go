package digelao

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/digelao-go/digelao/internal/flex"
)

// TemplatesService covers platform section 7.x 话术管理: script templates.
type TemplatesService service

// Template is a script template (话术模板). 7.1 lists it with "sn", 7.8 with "project_sn"; both
// arrive in SN, whose prefix is "projects|" or "project|" — keep it as it is, both occur. Extra
// keeps the members without a field here and Raw the template as received.
type Template struct {
	ID          int64
	SN          string // the project_sn that tasks take
	Name        string // project_caption: the template's name
	ProjectName string // project_name [inferred: the company or project it belongs to]
	QuestionSN  string // question_sn (7.8)
	VoiceBreak  VoiceBreak
	UserSN      string
	CreatedAt   time.Time
	UpdatedAt   time.Time

	Extra map[string]json.RawMessage
	Raw   json.RawMessage
}

type templateWire struct {
	ID          flex.Int    `json:"id"`
	SN          flex.String `json:"sn"`
	ProjectSN   flex.String `json:"project_sn"`
	Name        flex.String `json:"project_caption"`
	ProjectName flex.String `json:"project_name"`
	QuestionSN  flex.String `json:"question_sn"`
	VoiceBreak  *flex.Int   `json:"voice_break"`
	UserSN      flex.String `json:"user_sn"`
	CreatedAt   flex.Time   `json:"created_at"`
	UpdatedAt   flex.Time   `json:"updated_at"`
}

var templateKeys = jsonKeys(templateWire{})

// UnmarshalJSON decodes a template tolerantly; see Template.
func (t *Template) UnmarshalJSON(b []byte) error {
	var w templateWire
	extra, raw, err := decodeLoose(b, &w, templateKeys)
	if err != nil {
		return err
	}
	sn := w.SN
	if sn == "" {
		sn = w.ProjectSN
	}
	var vb VoiceBreak
	if w.VoiceBreak != nil {
		vb = voiceBreakOf(int(*w.VoiceBreak))
	}
	*t = Template{ID: int64(w.ID), SN: string(sn), Name: string(w.Name), ProjectName: string(w.ProjectName),
		QuestionSN: string(w.QuestionSN), VoiceBreak: vb, UserSN: string(w.UserSN), CreatedAt: w.CreatedAt.Time,
		UpdatedAt: w.UpdatedAt.Time, Extra: extra, Raw: raw}
	return nil
}

// VoiceBreak is how a template lets the customer interrupt the robot (7.1 voice_break). The zero
// value means unknown, or no filter in TemplateListOptions.
type VoiceBreak int

// Interruption modes. Their wire values are 0 and 1.
const (
	VoiceBreakOnMatch VoiceBreak = 1 // 匹配打断: when what the customer says matches (wire 0)
	VoiceBreakOnVoice VoiceBreak = 2 // 有声打断: as soon as the customer speaks (wire 1)
)

func voiceBreakOf(wire int) VoiceBreak {
	switch wire {
	case 0:
		return VoiceBreakOnMatch
	case 1:
		return VoiceBreakOnVoice
	}
	return 0
}

// TemplateListOptions filters Templates.List.
type TemplateListOptions struct {
	ListOptions            // PerPage 0: the platform's default, 5
	Name        string     // project_name: the platform matches it against the template [inferred: part of the name]
	VoiceBreak  VoiceBreak // 0: any
}

var templateListEndpoint = endpoint{method: http.MethodPost, path: "/api/templatelist", read: true}

// List returns a page of the account's script templates. Unlike the other List methods it
// returns no total, since the reply carries none: page until a page comes back short, or use Names
// for every template at once.
//
// Platform API 7.1 话术模板列表 (POST /api/templatelist): pageIndex, pageSize, voice_break,
// project_name. The reply's data is the list itself [client code].
func (s *TemplatesService) List(ctx context.Context, opts *TemplateListOptions) ([]*Template, error) {
	if opts == nil {
		opts = &TemplateListOptions{}
	}
	p := NewParams()
	if err := opts.set(p); err != nil {
		return nil, err
	}
	switch opts.VoiceBreak {
	case 0:
	case VoiceBreakOnMatch, VoiceBreakOnVoice:
		p.Set("voice_break", int(opts.VoiceBreak)-1)
	default:
		return nil, invalid("VoiceBreak", "unknown mode %d", opts.VoiceBreak)
	}
	setText(p, "project_name", opts.Name)
	var list []*Template
	if err := s.client.fetch(ctx, templateListEndpoint, p, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// Question is one question a template answers (7.2). The page is cut off after four members:
// Extra keeps the others and Raw the question as received.
type Question struct {
	SN         string // asks_sn
	Title      string // ask_title: the question, e.g. "谢谢"
	Answer     string // ask_caption: the robot's answer, e.g. "不客气"
	AskedTimes int

	Extra map[string]json.RawMessage
	Raw   json.RawMessage
}

type questionWire struct {
	SN         flex.String `json:"asks_sn"`
	Title      flex.String `json:"ask_title"`
	Answer     flex.String `json:"ask_caption"`
	AskedTimes flex.Int    `json:"asked_times"`
}

var questionKeys = jsonKeys(questionWire{})

// UnmarshalJSON decodes a question tolerantly; see Question.
func (q *Question) UnmarshalJSON(b []byte) error {
	var w questionWire
	extra, raw, err := decodeLoose(b, &w, questionKeys)
	if err != nil {
		return err
	}
	*q = Question{SN: string(w.SN), Title: string(w.Title), Answer: string(w.Answer), AskedTimes: int(w.AskedTimes),
		Extra: extra, Raw: raw}
	return nil
}

// TemplateDetails is a template with its questions.
type TemplateDetails struct {
	Template  *Template // the reply's "task" member
	Questions []*Question
}

var templateDataEndpoint = endpoint{method: http.MethodPost, path: "/api/templatedata", read: true, codeless: "data"}

// Get returns the script template projectSN with its questions.
//
// Platform API 7.2 话术模板详情接口 (POST /api/templatedata): project_sn as the parameter table
// names it, and the same sn as parent_sn, which the page's example sends instead — which of the
// two the platform reads is not known, and PHP ignores the other. The reply puts the questions in
// data and the template in a "task" member beside it; the rest of the reply is cut off.
func (s *TemplatesService) Get(ctx context.Context, projectSN string) (*TemplateDetails, error) {
	if err := required("projectSN", projectSN); err != nil {
		return nil, err
	}
	p := NewParams().Set("project_sn", projectSN).Set("parent_sn", projectSN)
	var w struct {
		Questions []*Question `json:"data"`
		Task      *Template   `json:"task"`
	}
	if err := s.client.fetchBody(ctx, templateDataEndpoint, p, &w); err != nil {
		return nil, err
	}
	return &TemplateDetails{Template: w.Task, Questions: w.Questions}, nil
}

var projectsEndpoint = endpoint{method: http.MethodPost, path: "/api/getProjects", read: true}

// Names returns every script template of the account in one unpaged list, with only the fields a
// drop-down needs: SN, Name, ProjectName and QuestionSN. Use List for the other fields.
//
// Platform API 7.8 获取话术模板接口(用于下拉选框) (POST /api/getProjects): no parameters. Its sns
// start with "project|" or "projects|"; both are kept as received.
func (s *TemplatesService) Names(ctx context.Context) ([]*Template, error) {
	var list []*Template
	if err := s.client.fetch(ctx, projectsEndpoint, NewParams(), &list); err != nil {
		return nil, err
	}
	return list, nil
}
