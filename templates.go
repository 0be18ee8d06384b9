package digelao

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/digelao-go/digelao/internal/flex"
)

// TemplatesService covers platform section 7.x 话术管理: script templates.
type TemplatesService service

// Template is a script template (话术模板). 7.1 lists it with "sn", 7.8 with "project_sn"; SN holds
// either, and its prefix is "projects|" or "project|" — keep it as it is, both occur. Extra keeps
// the members without a field here and Raw the template as received.
type Template struct {
	ID          int64      `json:"id"`
	SN          string     `json:"sn"` // the project_sn that tasks take
	ProjectSN   string     `json:"project_sn"`
	Name        string     `json:"project_caption"` // the template's name
	ProjectName string     `json:"project_name"`    // [inferred: the company or project it belongs to]
	QuestionSN  string     `json:"question_sn"`     // 7.8
	VoiceBreak  VoiceBreak `json:"voice_break"`
	UserSN      string     `json:"user_sn"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`

	Extra map[string]json.RawMessage `json:"-"` // marshalled inline
	Raw   json.RawMessage            `json:"-"` // not marshalled
}

var templateCodec = flex.NewCodec[Template]()

// UnmarshalJSON decodes a template tolerantly; see Template.
func (t *Template) UnmarshalJSON(b []byte) error {
	if err := templateCodec.Decode(b, t); err != nil {
		return err
	}
	t.settle()
	return nil
}

// settle completes a template as decoded: SN is ProjectSN when the reply named it so.
func (t *Template) settle() {
	if t.SN == "" {
		t.SN = t.ProjectSN
	}
}

// fetchTemplates calls ep, whose reply's data is a list of templates.
func (s *TemplatesService) fetchTemplates(ctx context.Context, ep endpoint, p *Params) ([]*Template, error) {
	list, err := fetchList(ctx, s.client, ep, p, templateCodec)
	for _, t := range list {
		t.settle()
	}
	return list, err
}

// MarshalJSON writes the template with the platform's member names.
func (t Template) MarshalJSON() ([]byte, error) { return templateCodec.Encode(&t) }

// VoiceBreak is how a template lets the customer interrupt the robot (7.1 voice_break). The zero
// value means unknown, or no filter in TemplateListOptions.
type VoiceBreak int

// Interruption modes. Their wire values are 0 and 1.
const (
	VoiceBreakOnMatch VoiceBreak = 1 // 匹配打断: when what the customer says matches (wire 0)
	VoiceBreakOnVoice VoiceBreak = 2 // 有声打断: as soon as the customer speaks (wire 1)
)

// UnmarshalJSON reads the wire value, 0 or 1 (as a number or text); anything else is unknown.
func (v *VoiceBreak) UnmarshalJSON(b []byte) error {
	s, err := flex.Text(b)
	if err != nil {
		return err
	}
	switch strings.TrimSpace(s) {
	case "0":
		*v = VoiceBreakOnMatch
	case "1":
		*v = VoiceBreakOnVoice
	default:
		*v = 0
	}
	return nil
}

// MarshalJSON writes the wire value, 0 or 1, or null when unknown.
func (v VoiceBreak) MarshalJSON() ([]byte, error) {
	if v != VoiceBreakOnMatch && v != VoiceBreakOnVoice {
		return []byte("null"), nil
	}
	return []byte(strconv.Itoa(int(v) - 1)), nil
}

// TemplateListOptions filters Templates.List.
type TemplateListOptions struct {
	ListOptions            // PerPage 0: the platform's default, 5
	Name        string     // project_name: the platform matches it against the template [inferred: part of the name]
	VoiceBreak  VoiceBreak // 0: any
}

var templateListEndpoint = endpoint{method: http.MethodPost, path: "/api/templatelist", read: true}

// List returns a page of the account's script templates and, as its total, the number of
// templates on that page: 7.1's reply counts nothing more. A full page may not be the last one:
// use All for every template that matches, or Names for every template at once.
//
// Platform API 7.1 话术模板列表 (POST /api/templatelist): pageIndex, pageSize, voice_break,
// project_name. The reply's data is the list itself [client code].
func (s *TemplatesService) List(ctx context.Context, opts *TemplateListOptions) ([]*Template, int, error) {
	pg, err := s.page(ctx, opts)
	return pg.items, len(pg.items), err
}

// All returns every template that matches opts, from page opts.Page on, paging until a page comes
// back shorter than asked (the reply has no total).
//
// Platform API 7.1 话术模板列表 (POST /api/templatelist); see List.
func (s *TemplatesService) All(ctx context.Context, opts *TemplateListOptions) iter.Seq2[*Template, error] {
	o := TemplateListOptions{}
	if opts != nil {
		o = *opts
	}
	return pageAll(ctx, "templates", &o.ListOptions, func(ctx context.Context, lo *ListOptions) (page[*Template], error) {
		o.ListOptions = *lo
		return s.page(ctx, &o)
	}, func(t *Template) string { return t.SN })
}

func (s *TemplatesService) page(ctx context.Context, opts *TemplateListOptions) (page[*Template], error) {
	if opts == nil {
		opts = &TemplateListOptions{}
	}
	p := NewParams()
	if err := opts.set(p); err != nil {
		return page[*Template]{}, err
	}
	switch opts.VoiceBreak {
	case 0:
	case VoiceBreakOnMatch, VoiceBreakOnVoice:
		p.Set("voice_break", int(opts.VoiceBreak)-1)
	default:
		return page[*Template]{}, invalid("VoiceBreak", "unknown mode %d", opts.VoiceBreak)
	}
	setText(p, "project_name", opts.Name)
	list, err := s.fetchTemplates(ctx, templateListEndpoint, p)
	return page[*Template]{items: list}, err
}

// Question is one question a template answers (7.2). The page is cut off after four members:
// Extra keeps the others and Raw the question as received.
type Question struct {
	SN         string `json:"asks_sn"`
	Title      string `json:"ask_title"`   // the question, e.g. "谢谢"
	Answer     string `json:"ask_caption"` // the robot's answer, e.g. "不客气"
	AskedTimes int    `json:"asked_times"`

	Extra map[string]json.RawMessage `json:"-"` // marshalled inline
	Raw   json.RawMessage            `json:"-"` // not marshalled
}

var questionCodec = flex.NewCodec[Question]()

// UnmarshalJSON decodes a question tolerantly; see Question.
func (q *Question) UnmarshalJSON(b []byte) error { return questionCodec.Decode(b, q) }

// MarshalJSON writes the question with the platform's member names.
func (q Question) MarshalJSON() ([]byte, error) { return questionCodec.Encode(&q) }

// TemplateDetails is a template with its questions, as 7.2 answers.
type TemplateDetails struct {
	Template  *Template   `json:"task"`
	Questions []*Question `json:"data"`
}

var templateDetailsCodec = flex.NewCodec[TemplateDetails]()

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
	var d TemplateDetails
	if err := fetchBodyWith(ctx, s.client, templateDataEndpoint, p, templateDetailsCodec, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

var projectsEndpoint = endpoint{method: http.MethodPost, path: "/api/getProjects", read: true}

// Names returns every script template of the account in one unpaged list, with only the fields a
// drop-down needs: SN, Name, ProjectName and QuestionSN. Use List for the other fields.
//
// Platform API 7.8 获取话术模板接口(用于下拉选框) (POST /api/getProjects): no parameters. Its sns
// start with "project|" or "projects|"; both are kept as received.
func (s *TemplatesService) Names(ctx context.Context) ([]*Template, error) {
	return s.fetchTemplates(ctx, projectsEndpoint, NewParams())
}
