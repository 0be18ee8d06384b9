package digelaotest

import (
	"strings"

	"github.com/digelao-go/digelao"
)

// templateList serves 7.1 /api/templatelist: data is the list of templates itself (sn,
// project_caption, …), pageSize 5 by default. Filters: project_name (part of the name or
// caption) and voice_break (every template has 0).
func (s *Server) templateList(c *call) (any, error) {
	name := c.p.str("project_name")
	vb, err := intParam(c.p, "voice_break", -1)
	if err != nil {
		return nil, err
	}
	var match []*Template
	for _, t := range s.templates {
		if (name == "" || strings.Contains(t.Name, name) || strings.Contains(t.Company, name)) && vb <= 0 {
			match = append(match, t)
		}
	}
	lo, hi, err := pageOf(c, len(match), 5)
	if err != nil {
		return nil, err
	}
	list := []any{}
	for i, t := range match[lo:hi] {
		list = append(list, obj("id", 118+lo+i, "sn", t.SN, "project_name", t.Company, "project_caption", t.Name,
			"voice_break", 0, "user_sn", c.t.acct.UserSN, "created_at", "2024-01-01 00:00:00",
			"updated_at", "2024-01-01 00:00:00"))
	}
	return obj("code", 0, "msg", "获取成功", "data", list), nil
}

// templateData serves 7.2 /api/templatedata: data lists the template's questions and task
// describes the template. project_sn names it (the page's example sends parent_sn; both work).
func (s *Server) templateData(c *call) (any, error) {
	sn := c.p.str("project_sn")
	if sn == "" {
		sn = c.p.str("parent_sn")
	}
	t := s.template(sn)
	if t == nil {
		return nil, fail(digelao.CodeBadData)
	}
	asks := []any{}
	for i, q := range [...][2]string{{"谢谢", "不客气"}, {"你是谁", "我是智能客服"}, {"多少钱", "具体费用由工作人员为您介绍"}} {
		asks = append(asks, obj("asks_sn", "asks|"+md5Hex(t.SN+q[0]), "ask_caption", q[1], "ask_title", q[0], "asked_times", 90-30*i))
	}
	id := 118
	for i, tt := range s.templates {
		if tt == t {
			id += i
		}
	}
	return obj("data", asks, "task", obj("id", id, "sn", t.SN, "project_name", t.Company, "project_caption", t.Name),
		"code", 0, "msg", "获取成功"), nil
}

// projects serves 7.8 /api/getProjects: every template for a drop-down.
func (s *Server) projects(*call) (any, error) {
	list := []any{}
	for _, t := range s.templates {
		list = append(list, obj("project_sn", t.SN, "project_name", t.Company, "project_caption", t.Name,
			"question_sn", md5Hex(t.SN)[:17]))
	}
	return obj("code", 0, "msg", "获取成功", "data", list), nil
}

// exportModel serves 5.11 /api/exportModel (GET, and POST as its JSON example suggests): type=json
// answers {"code":0,"data":[[columns…]]}, type=extend {"code":0,"data":[]} (no extra fields), and
// no type the import template as an xlsx download.
func (s *Server) exportModel(c *call) (any, error) {
	t := s.template(c.p.str("project_sn"))
	if t == nil {
		return nil, fail(digelao.CodeBadData)
	}
	switch c.p.str("type") {
	case "json":
		return obj("code", 0, "data", []any{t.Columns}), nil
	case "extend":
		return obj("code", 0, "data", []any{}), nil
	case "":
		return &file{name: t.Name + ".xlsx", contentType: xlsxType, data: writeXLSX([][]string{t.Columns})}, nil
	}
	return nil, fail(digelao.CodeBadData)
}
