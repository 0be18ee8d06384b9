package digelaotest

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/flex"
)

// seat is a sub-account (2.1.x), the "AI seat" tasks are dialled by.
type seat struct {
	id             int64
	sn             string
	name           string
	contact        string
	password       string
	job            string
	organizationID int
	roleID         int
	maxCalls       int
	projectSN      string
}

func (st *seat) item(a Account) *array {
	return obj("job", st.job, "user_sn", st.sn, "user_name", st.name, "parent_sn", a.Username, "wangwang", nil,
		"callin_project_sn", st.projectSN, "contact", st.contact, "display_phone", "", "expired", nil, "ext", "1",
		"last_login_time", nil, "linkext", "1", "max_call_count", st.maxCalls, "organization_id", st.organizationID,
		"project_sn", st.projectSN, "sdzj_phone", a.CallerGroup, "sipname", st.name, "skillgroup_sn", st.name,
		"yd_display_phone", "vos:"+a.CallerGroup)
}

// seatList serves 2.1.1 /api/aiUserDatasapi: {"total":…,"data":[…]} with no code, pageSize 5 by
// default, filtered by user_name (part of the name).
func (s *Server) seatList(c *call) (any, error) {
	name := c.p.str("user_name")
	var match []*seat
	for _, st := range c.t.seats {
		if strings.Contains(st.name, name) {
			match = append(match, st)
		}
	}
	lo, hi, err := pageOf(c, len(match), 5)
	if err != nil {
		return nil, err
	}
	list := []any{}
	for _, st := range match[lo:hi] {
		list = append(list, st.item(c.t.acct))
	}
	return obj("total", len(match), "data", list), nil
}

func (tn *tenant) seatByName(name string) *seat {
	for _, st := range tn.seats {
		if st.name == name {
			return st
		}
	}
	return nil
}

// seatFields reads the 2.1.2/2.1.4 fields into st; with all set, every one is required.
func seatFields(p *array, st *seat, all bool) error {
	for _, k := range []string{"contact", "password", "re_password", "organization_id", "role_id", "max_call_count"} {
		if _, ok := p.get(k); all && !ok {
			return fail(digelao.CodeBadData)
		}
	}
	if p.str("password") != p.str("re_password") {
		return fail(digelao.CodeBadData)
	}
	for _, f := range []struct {
		key string
		dst *int
	}{{"organization_id", &st.organizationID}, {"role_id", &st.roleID}, {"max_call_count", &st.maxCalls}} {
		n, err := intParam(p, f.key, *f.dst)
		if err != nil {
			return err
		}
		*f.dst = n
	}
	if v := p.str("contact"); v != "" {
		st.contact = v
	}
	if v := p.str("password"); v != "" {
		st.password = v
	}
	return nil
}

// seatSave serves 2.1.2 /api/aiUserSaveapi. The reply is not documented; the fake answers
// {"code":0,"msg":"添加成功","data":{"user_sn":…}}. A taken user_name is 20002.
func (s *Server) seatSave(c *call) (any, error) {
	name := strings.TrimSpace(c.p.str("user_name"))
	if name == "" || c.t.seatByName(name) != nil {
		return nil, fail(digelao.CodeBadData)
	}
	s.ids.seat++
	st := &seat{id: s.ids.seat, sn: s.sn("SYSUSER"), name: name, job: "坐席", projectSN: s.templates[0].SN}
	if err := seatFields(c.p, st, true); err != nil {
		return nil, err
	}
	c.t.seats = append(c.t.seats, st)
	return obj("code", 0, "msg", "添加成功", "data", obj("user_sn", st.sn)), nil
}

// seatUpdate serves 2.1.4 /api/aiUserUpdateapi, for the sub-account named user_name; fields left
// out keep their values. The reply is not documented; the fake answers {"code":0,"msg":"修改成功"}.
func (s *Server) seatUpdate(c *call) (any, error) {
	st := c.t.seatByName(c.p.str("user_name"))
	if st == nil {
		return nil, fail(digelao.CodeBadData)
	}
	next := *st
	if err := seatFields(c.p, &next, false); err != nil {
		return nil, err
	}
	*st = next
	return obj("code", 0, "msg", "修改成功"), nil
}

// seatDelete serves 2.1.3 /api/aiUserDeleteapi: pkey "user_name", entityInstanceId the names. It
// answers {"rst":"200","msg":"","success_num","not_allowed","fail_num"}; a sub-account with a task
// still to call is not allowed [inferred], an unknown name fails.
func (s *Server) seatDelete(c *call) (any, error) {
	names := listParam(c.p, "entityInstanceId")
	if c.p.str("pkey") != "user_name" || len(names) == 0 {
		return nil, fail(digelao.CodeBadData)
	}
	ok, notAllowed, failed := 0, 0, 0
	for _, name := range names {
		st := c.t.seatByName(name)
		if st == nil {
			failed++
			continue
		}
		busy := false
		for _, t := range c.t.tasks {
			busy = busy || (t.seat == st && !t.deleted && (t.counts().pending > 0 || t.importing))
		}
		if busy {
			notAllowed++
			continue
		}
		c.t.seats = slices.DeleteFunc(c.t.seats, func(x *seat) bool { return x == st })
		ok++
	}
	return obj("rst", "200", "msg", "", "success_num", ok, "not_allowed", notAllowed, "fail_num", failed), nil
}

// roles serves /api/roleGetapi (3.2, not retrievable): the roles 2.1.2's role_id takes [inferred shape].
func (s *Server) roles(*call) (any, error) {
	return obj("code", 0, "msg", "获取成功", "data", []any{obj("id", 1, "name", "管理员"), obj("id", 2, "name", "坐席")}), nil
}

func defaultCallTimes() *array {
	a := &array{}
	for d := 1; d <= 7; d++ {
		a.set("week"+strconv.Itoa(d), "08:30-12:00,13:30-20:30")
	}
	a.set("holiday", "08:30-12:00,13:30-20:30")
	a.set("holiday_status", 1)
	return a
}

// callTimeList serves 4.3 /api/callTimeList. The simulation dials at any hour regardless.
func (s *Server) callTimeList(c *call) (any, error) {
	return obj("code", 0, "msg", "", "data", c.t.callTimes), nil
}

// timeSave serves 4.4 /api/timeSave: week1…week7 required ("HH:MM-HH:MM" ranges joined by
// commas, "" for no calling), holiday and holiday_status (0/1) optional. The reply is not
// documented; the fake answers {"code":0,"msg":"保存成功"}.
func (s *Server) timeSave(c *call) (any, error) {
	span := `([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)`
	ranges := regexp.MustCompile(`^(` + span + `)(,(` + span + `))*$`)
	next := &array{}
	for _, k := range c.t.callTimes.keys {
		v, _ := c.t.callTimes.get(k)
		next.set(k, v)
	}
	for d := 1; d <= 8; d++ {
		k := "week" + strconv.Itoa(d)
		if d == 8 {
			k = "holiday"
		}
		v, ok := c.p.get(k)
		if !ok {
			if d == 8 {
				continue
			}
			return nil, fail(digelao.CodeBadData)
		}
		if txt := scalarText(v); txt == "" || ranges.MatchString(txt) {
			next.set(k, txt)
		} else {
			return nil, fail(digelao.CodeBadData)
		}
	}
	if hs := c.p.str("holiday_status"); hs != "" {
		if hs != "0" && hs != "1" {
			return nil, fail(digelao.CodeBadData)
		}
		next.set("holiday_status", int(hs[0]-'0'))
	}
	c.t.callTimes = next
	return obj("code", 0, "msg", "保存成功"), nil
}

// customer is a CRM customer (6.7), in the private (私海) or public (公海) pool.
type customer struct {
	id      int64
	private bool
	owner   string
	name    string
	phone   string
	fields  *array
	created time.Time
	updated time.Time
}

// addCustomers adds rows to one pool: a row without a number fails, a number already in the pool
// repeats. It answers as 6.7.3/6.7.4 do: {"total","success_count","fail":"0","repeat":"0","msg",
// "rst":"200"} (fail and repeat as strings).
func (s *Server) addCustomers(c *call, rows []*array, private bool, owners []string) *array {
	ok, failed, repeat := 0, 0, 0
	for _, raw := range rows {
		owner := ""
		if len(owners) > 0 {
			owner = owners[ok%len(owners)] // shared out in turn [inferred]
		}
		row := &array{}
		for i, k := range raw.keys {
			row.set(strings.TrimPrefix(k, "*"), scalarText(raw.vals[i]))
		}
		phone := normalizePhone(row.str(phoneColumn(row.keys)))
		switch {
		case phone == "":
			failed++
		case slices.ContainsFunc(c.t.customers, func(x *customer) bool { return x.private == private && x.phone == phone }):
			repeat++
		default:
			s.ids.customer++
			c.t.customers = append(c.t.customers, &customer{id: s.ids.customer, private: private, owner: owner,
				name: row.str("姓名"), phone: phone, fields: row, created: c.now, updated: c.now})
			ok++
		}
	}
	return obj("total", len(rows), "success_count", ok, "fail", strconv.Itoa(failed), "repeat", strconv.Itoa(repeat),
		"msg", "导入成功", "rst", "200")
}

// addCustomerJSON serves 6.7.1 /api/addCustomerJson (GET): add_json {"data":[…]} into the private
// pools of user_sn_input, sub-account sns joined by commas that share the rows out in turn
// (default: the account) [inferred]; an sn that is neither the account nor one of its
// sub-accounts is 20002.
func (s *Server) addCustomerJSON(c *call) (any, error) {
	rows, err := jsonRows(c.p, "add_json")
	if err != nil {
		return nil, err
	}
	owners := listParam(c.p, "user_sn_input")
	for _, sn := range owners {
		if sn != c.t.acct.UserSN && c.t.seat(sn) == nil {
			return nil, fail(digelao.CodeBadData)
		}
	}
	if len(owners) == 0 {
		owners = []string{c.t.acct.UserSN}
	}
	return s.addCustomers(c, rows, true, owners), nil
}

// addPublicCustomerJSON serves 6.7.2 /api/addPublicCustomerJson (GET): add_json into the public pool.
func (s *Server) addPublicCustomerJSON(c *call) (any, error) {
	rows, err := jsonRows(c.p, "add_json")
	if err != nil {
		return nil, err
	}
	return s.addCustomers(c, rows, false, nil), nil
}

// importPublicCustomerExcel serves 6.7.4 /api/importPublicCustomerExcle (POST, multipart): an
// xlsx upload into the public pool; auto_ignore and follow_set_id are accepted and not used.
func (s *Server) importPublicCustomerExcel(c *call) (any, error) {
	rows, err := uploadRows(c)
	if err != nil {
		return nil, err
	}
	return s.addCustomers(c, rows, false, nil), nil
}

// customerList serves 6.7.5 /api/customerList (GET): isPrivate (1/0, required), pageSize 5 by
// default, and data, a JSON search object (namephone, updated_at_start, updated_at_end). The
// reply is cut off on the page; the fake answers {"code":0,"msg":…,"data":{"total","list"}}.
func (s *Server) customerList(c *call) (any, error) {
	priv := c.p.str("isPrivate")
	if priv != "0" && priv != "1" {
		return nil, fail(digelao.CodeBadData)
	}
	search := &array{}
	if v, ok := c.p.get("data"); ok {
		if str, isStr := v.(string); isStr && strings.TrimSpace(str) != "" {
			d, err := decodeJSON([]byte(str))
			if search, ok = d.(*array); err != nil || !ok {
				return nil, fail(digelao.CodeBadData)
			}
		} else if a, isArr := v.(*array); isArr {
			search = a
		}
	}
	from, err1 := flex.ParseTime(search.str("updated_at_start"))
	to, err2 := flex.ParseTime(search.str("updated_at_end"))
	if err1 != nil || err2 != nil {
		return nil, fail(digelao.CodeBadData)
	}
	np := search.str("namephone")
	var match []*customer
	for _, cu := range slices.Backward(c.t.customers) {
		if cu.private == (priv == "1") && inRange(cu.updated, from, to) &&
			(np == "" || strings.Contains(cu.phone, np) || strings.Contains(cu.name, np)) {
			match = append(match, cu)
		}
	}
	lo, hi, err := pageOf(c, len(match), 5)
	if err != nil {
		return nil, err
	}
	list := []any{}
	for _, cu := range match[lo:hi] {
		item := obj("id", cu.id, "name", cu.name, "phone", cu.phone, "user_sn", cu.owner, "is_private", boolInt(cu.private),
			"created_at", timeText(cu.created), "updated_at", timeText(cu.updated))
		for i, k := range cu.fields.keys {
			if _, taken := item.get(k); !taken {
				item.set(k, cu.fields.vals[i])
			}
		}
		list = append(list, item)
	}
	return obj("code", 0, "msg", "获取成功", "data", obj("total", len(match), "list", list)), nil
}

// blackEntry is one number on the account's 防打扰 list (8.x).
type blackEntry struct {
	id                            int64
	name, phone, unit, addr, note string
	days                          int // 0: for good
	created                       time.Time
}

func (b *blackEntry) until() time.Time {
	if b.days == 0 {
		return time.Time{}
	}
	return b.created.AddDate(0, 0, b.days)
}

func (tn *tenant) blacklisted(phone string, at time.Time) bool {
	return slices.ContainsFunc(tn.blacklist, func(b *blackEntry) bool {
		return b.phone == phone && (b.days == 0 || at.Before(b.until()))
	})
}

// blacklistList serves 8.1 /api/BlackListListsDataapi: {"total":…,"datas":[…]} with no code,
// newest first; term_value is a string. pageIndex/pageSize are undocumented and optional.
func (s *Server) blacklistList(c *call) (any, error) {
	lo, hi, err := pageOf(c, len(c.t.blacklist), len(c.t.blacklist)+1)
	if err != nil {
		return nil, err
	}
	list := []any{}
	for _, b := range slices.Backward(c.t.blacklist) {
		list = append(list, obj("id", b.id, "name", nilIfEmpty(b.name), "phone", b.phone, "unit", b.unit, "address", b.addr,
			"remark", b.note, "term_value", strconv.Itoa(b.days), "created_at", timeText(b.created), "is_auto", "人工导入",
			"term_time", timeText(b.until())))
	}
	return obj("total", len(c.t.blacklist), "datas", list[lo:hi]), nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// blacklistDelete serves 8.2 /api/BlackListDelete: ids_json (a list of ids) or phone_str (numbers
// joined by commas); {"code":0,"msg":"移除成功","success":…,"fail":…}.
func (s *Server) blacklistDelete(c *call) (any, error) {
	ids, phones := listParam(c.p, "ids_json"), listParam(c.p, "phone_str")
	keys, byID := ids, true
	if len(ids) == 0 {
		keys, byID = phones, false
	}
	if len(keys) == 0 {
		return nil, fail(digelao.CodeBadData)
	}
	ok := 0
	for _, k := range keys {
		n := len(c.t.blacklist)
		c.t.blacklist = slices.DeleteFunc(c.t.blacklist, func(b *blackEntry) bool {
			return (byID && strconv.FormatInt(b.id, 10) == k) || (!byID && b.phone == k)
		})
		if len(c.t.blacklist) < n {
			ok++
		}
	}
	return obj("code", 0, "msg", "移除成功", "success", ok, "fail", len(keys)-ok), nil
}

// blacklistDownload serves 8.3 /api/downloadBlacklistapi (GET): the list (or the ids in ids_json)
// as an xlsx file.
func (s *Server) blacklistDownload(c *call) (any, error) {
	ids := listParam(c.p, "ids_json")
	rows := [][]string{{"姓名", "电话", "公司名称", "地址", "备注", "期限(天)", "创建时间"}}
	for _, b := range c.t.blacklist {
		if len(ids) == 0 || slices.Contains(ids, strconv.FormatInt(b.id, 10)) {
			rows = append(rows, []string{b.name, b.phone, b.unit, b.addr, b.note, strconv.Itoa(b.days),
				b.created.In(flex.China).Format(time.DateTime)})
		}
	}
	return &file{name: "blacklist.xlsx", contentType: xlsxType, data: writeXLSX(rows)}, nil
}

// blacklistImport serves 8.4 /api/importsExcelapi: one phone (with name, unit, address, remark)
// or an xlsx upload (columns 姓名, 电话, 公司名称, 地址, 备注), blocked for term_value days (0: for
// good). The reply is cut off on the page; the fake answers {"code":0,"msg":"导入成功","success",
// "fail"}, counting a malformed or already listed number as failed.
func (s *Server) blacklistImport(c *call) (any, error) {
	days, err := intParam(c.p, "term_value", 0)
	if err != nil || days < 0 {
		return nil, fail(digelao.CodeBadData)
	}
	var rows []*array
	if _, ok := c.files["upload"]; ok {
		if rows, err = uploadRows(c); err != nil {
			return nil, err
		}
	} else if c.p.str("phone") != "" {
		rows = []*array{obj("姓名", c.p.str("name"), "电话", c.p.str("phone"), "公司名称", c.p.str("unit"),
			"地址", c.p.str("address"), "备注", c.p.str("remark"))}
	} else {
		return nil, fail(digelao.CodeBadData)
	}
	ok := 0
	for _, r := range rows {
		phone := normalizePhone(r.str("电话"))
		if phone == "" || slices.ContainsFunc(c.t.blacklist, func(b *blackEntry) bool { return b.phone == phone }) {
			continue
		}
		s.ids.blacklist++
		c.t.blacklist = append(c.t.blacklist, &blackEntry{id: s.ids.blacklist, name: r.str("姓名"), phone: phone,
			unit: r.str("公司名称"), addr: r.str("地址"), note: r.str("备注"), days: days, created: c.now})
		ok++
	}
	return obj("code", 0, "msg", "导入成功", "success", ok, "fail", len(rows)-ok), nil
}

// Workbook returns an xlsx workbook of one sheet holding rows (the first is the header), as the
// upload endpoints (5.7.1, 5.8.1, 6.7.4, 8.4) read them: for tests and examples that upload.
func Workbook(rows ...[]string) []byte { return writeXLSX(rows) }
