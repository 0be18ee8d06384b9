package digelao

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/digelao-go/digelao/internal/flex"
	"github.com/digelao-go/digelao/internal/phpjson"
)

// MaxImportRows is the most contacts one import may carry (platform code 30005). Larger lists go
// through ImportInBatches.
const MaxImportRows = 30000

// Column is one import column of a script template.
type Column struct {
	Name     string // the header without its "*", e.g. "电话": the key of the contact rows
	Required bool   // the header was marked with "*"
}

// MarshalJSON writes the column as 5.11 lists it: the header, "*" first when it is required.
func (c Column) MarshalJSON() ([]byte, error) {
	h := c.Name
	if c.Required {
		h = "*" + h
	}
	return json.Marshal(h)
}

// UnmarshalJSON reads a header as 5.11 lists it.
func (c *Column) UnmarshalJSON(b []byte) error {
	var h string
	if err := json.Unmarshal(b, &h); err != nil {
		return err
	}
	*c = parseColumns([]string{h})[0]
	return nil
}

// Columns are a template's import columns in order, as ImportColumns returns them.
type Columns []Column

func parseColumns(headers []string) Columns {
	cols := make(Columns, 0, len(headers))
	for _, h := range headers {
		name, req := strings.CutPrefix(strings.TrimSpace(h), "*")
		cols = append(cols, Column{Name: name, Required: req})
	}
	return cols
}

// Index returns the position of the column name (with or without "*"), or -1.
func (cs Columns) Index(name string) int {
	name = strings.TrimPrefix(name, "*")
	for i, c := range cs {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// nameColumn is the header of the contact's name.
const nameColumn = "姓名"

// phoneIndex returns the column that holds the number: the first required one whose name holds
// 电话 or 手机, else the first such column at all, else -1 [inferred: templates name it "电话"].
func (cs Columns) phoneIndex() int {
	found := -1
	for i, c := range cs {
		if strings.Contains(c.Name, "电话") || strings.Contains(c.Name, "手机") {
			if c.Required {
				return i
			}
			if found < 0 {
				found = i
			}
		}
	}
	return found
}

// Contact is one number to call, with the template's other columns.
type Contact struct {
	Phone string // goes to the template's phone column (电话)
	Name  string // goes to the 姓名 column
	// Fields holds the other columns by header name, e.g. {"地址": "…", "公司名称": "…"}.
	Fields map[string]string
}

// contactRows are contacts checked against a template's columns, to be sent as client_info_json
// in batches. A batch is encoded straight into the request body, sized in advance with the
// lengths measured while checking: a full import is several MB, and growing a buffer to that size
// allocates it several times over.
type contactRows struct {
	cols              Columns
	phoneCol, nameCol int
	contacts          []Contact
	batch             int   // contacts per batch
	sizes             []int // each batch's client_info_json in bytes
	// A row is an object whose members are the columns' names (never a list: the phone column's
	// name is not a number); a name that appears twice keeps its first place and takes the later
	// value, as Params.Set does.
	names []string // the members, in order
	slot  []int    // the member of each column
	vals  []string // the row being encoded, by member
}

// client_info_json is {"data":[rows]}: the encoding of NewParams().Set("data", rows).
const rowsOpen, rowsClose = `{"data":[`, `]}`

// rows checks every contact against the columns — every column in the template's order, keys
// without "*", absent values as "" — and measures the client_info_json of each batch of at most
// batch contacts.
func (cs Columns) rows(contacts []Contact, batch int) (*contactRows, error) {
	if len(cs) == 0 {
		return nil, invalid("Columns", "are required: get them with ImportColumns")
	}
	r := &contactRows{cols: cs, phoneCol: cs.phoneIndex(), nameCol: cs.Index(nameColumn), contacts: contacts,
		batch: batch, slot: make([]int, len(cs))}
	if r.phoneCol < 0 {
		return nil, invalid("Columns", "have no phone column (电话 or 手机)")
	}
	if len(contacts) == 0 {
		return nil, invalid("Contacts", "at least one is required")
	}
	for j, col := range cs {
		if r.slot[j] = slices.Index(r.names, col.Name); r.slot[j] < 0 {
			r.slot[j] = len(r.names)
			r.names = append(r.names, col.Name)
		}
	}
	r.vals = make([]string, len(r.names))
	var row []byte
	for i := range contacts {
		if i%batch == 0 {
			r.sizes = append(r.sizes, len(rowsOpen)+len(rowsClose)-1) // -1: no comma before the first row
		}
		var err error
		if row, err = r.appendRow(row[:0], i); err != nil {
			return nil, err
		}
		r.sizes[len(r.sizes)-1] += 1 + len(row)
	}
	return r, nil
}

// rowBatch is batch b of rows as a client_info_json value: the Params encoder calls appendJSON to
// write it straight into the request body, which membersSize sizes with jsonLen. It is a concrete
// type, not an interface, so that the buffers the encoder is given can stay on their callers'
// stacks.
type rowBatch struct {
	rows *contactRows
	b    int
}

// jsonLen returns the length appendJSON adds.
func (rb rowBatch) jsonLen() int { return rb.rows.sizes[rb.b] }

// appendJSON appends the batch's client_info_json, checking its contacts again.
func (rb rowBatch) appendJSON(dst []byte) ([]byte, error) {
	r, first := rb.rows, rb.b*rb.rows.batch
	dst = append(dst, rowsOpen...)
	for i := first; i < min(first+r.batch, len(r.contacts)); i++ {
		if i > first {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = r.appendRow(dst, i); err != nil {
			return dst, err
		}
	}
	return append(dst, rowsClose...), nil
}

// appendRow checks contact i and appends its row to dst.
func (r *contactRows) appendRow(dst []byte, i int) ([]byte, error) {
	ct := &r.contacts[i]
	field := func(col string) string { return fmt.Sprintf("Contacts[%d].%s", i, col) }
	phone, ok := cleanPhone(ct.Phone)
	if !ok {
		return dst, notPhone(field("Phone"), ct.Phone)
	}
	if ct.Name != "" && r.nameCol < 0 {
		return dst, invalid(field("Name"), "the template has no %s column", nameColumn)
	}
	for k := range ct.Fields {
		switch r.cols.Index(k) {
		case -1:
			return dst, invalid(field(k), "is not a column of the template")
		case r.phoneCol, r.nameCol:
			return dst, invalid(field(k), "set Contact.Phone or Contact.Name instead")
		}
	}
	for j, col := range r.cols {
		var v string
		switch j {
		case r.phoneCol:
			v = phone
		case r.nameCol:
			v = ct.Name
		default:
			var ok bool
			if v, ok = ct.Fields[col.Name]; !ok {
				v = ct.Fields["*"+col.Name]
			}
		}
		if col.Required && strings.TrimSpace(v) == "" {
			return dst, invalid(field(col.Name), "is a required column")
		}
		r.vals[r.slot[j]] = v
	}
	dst = append(dst, '{')
	for k, name := range r.names {
		if k > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = phpjson.AppendString(dst, name); err == nil {
			dst, err = phpjson.AppendString(append(dst, ':'), r.vals[k])
		}
		if err != nil {
			return dst, invalid(field(name), "%v", err)
		}
	}
	return append(dst, '}'), nil
}

// phoneNumber returns s without spaces and dashes when what remains is 5 to 20 digits (a mobile
// number, or a landline with its area code), and otherwise a *ValidationError naming field.
func phoneNumber(field, s string) (string, error) {
	digits, ok := cleanPhone(s)
	if !ok {
		return "", notPhone(field, s)
	}
	return digits, nil
}

// cleanPhone is phoneNumber without the error, for callers that name the field only when it fails.
// It allocates only when s holds a space or a dash.
func cleanPhone(s string) (digits string, ok bool) {
	digits = strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(s), " ", ""), "-", "")
	return digits, len(digits) >= 5 && len(digits) <= 20 && strings.Trim(digits, "0123456789") == ""
}

func notPhone(field, s string) error {
	return invalid(field, "%q is not a phone number (5 to 20 digits)", s)
}

// checkTaskName applies 5.7.2's rule for a task name, "只支持中英文小括号数字": letters, Chinese
// characters, parentheses (ASCII or full-width) and digits only.
func checkTaskName(field, name string) error {
	if name == "" {
		return invalid(field, "is required")
	}
	for _, r := range name {
		ascii := r <= unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))
		if !ascii && !unicode.Is(unicode.Han, r) && !strings.ContainsRune("()（）", r) {
			return invalid(field, "may hold only letters, Chinese characters, digits and parentheses, not %q", r)
		}
	}
	return nil
}

// CreateTaskRequest creates a task with contacts, or adds contacts to a task (AppendTo).
type CreateTaskRequest struct {
	Name      string // source: the task's name; letters, Chinese characters, digits and parentheses
	ProjectSN string // the script template (project_sn), from Templates.List
	SeatSN    string // ai_user_sn: the sub-account (AI seat) that calls
	AutoStart bool   // is_zidong "on": start calling once imported; otherwise start with Operate(TaskResume)
	Recall    *Recall
	// AppendTo, when set, adds the contacts to this task (its dial_task_main_sn) instead of
	// creating one. New tasks are limited to 100 a day; appending is not. Appending to a finished
	// task pauses it until TaskResume.
	AppendTo string
	Columns  Columns   // the template's columns, from ImportColumns
	Contacts []Contact // at most MaxImportRows
}

// Validate reports the first problem that would stop the request before anything is sent: the
// name, template, seat and recall settings, and — once Columns is set — every contact. It lets a
// program check its input before fetching the columns.
func (req *CreateTaskRequest) Validate() error {
	if err := req.check(); err != nil || len(req.Columns) == 0 {
		return err
	}
	_, err := req.rows()
	return err
}

func (req *CreateTaskRequest) check() error {
	if req == nil {
		return invalid("CreateTaskRequest", "is nil")
	}
	return checkTask(req.Name, req.ProjectSN, req.SeatSN, req.Recall)
}

// checkTask checks what every task creation takes: a name the platform accepts, the template, the
// seat and the recall settings.
func checkTask(name, projectSN, seatSN string, recall *Recall) error {
	if err := checkTaskName("Name", name); err != nil {
		return err
	}
	if err := required("ProjectSN", projectSN, "SeatSN", seatSN); err != nil {
		return err
	}
	if recall != nil {
		return recall.check()
	}
	return nil
}

// params returns the request's parameters with info as its client_info_json: the documented ones
// in the page's order, then those clients send after the cut-off.
func (req *CreateTaskRequest) params(info rowBatch) *Params {
	p := NewParams().Set("project_sn", req.ProjectSN).Set("source", req.Name).
		Set("client_info_json", info).Set("ai_user_sn", req.SeatSN)
	return setTaskOptions(p, req.AutoStart, req.Recall, req.AppendTo)
}

// setTaskOptions sets what every task creation sends after its contacts: is_zidong, the recall
// fields and the task to append to.
func setTaskOptions(p *Params, autoStart bool, recall *Recall, appendTo string) *Params {
	if autoStart {
		p.Set("is_zidong", "on")
	}
	if recall != nil {
		p.Set("is_auto_fail_recall", 1)
		recall.set(p)
	}
	setText(p, "dial_task_main_sn", appendTo)
	return p
}

// CreatedTask is the reply to a creation or an append. The reply is not documented; the fields are
// inferred, and Extra and Raw keep the rest as received.
type CreatedTask struct {
	ID     int64         `json:"dial_task_main_id"` // for Operate, Details and ImportInfo
	SN     string        `json:"dial_task_main_sn"` // for appending and for records
	Counts *ImportCounts `json:"import_mark"`       // the import's counters, when the reply carries them (Create does)
	// Rejected are the rows the import refused, with their original columns, when the reply lists
	// them (CreateBatch's does).
	Rejected []RejectedRow `json:"import_fail_data"`

	Extra map[string]json.RawMessage `json:"-"` // marshalled inline
	Raw   json.RawMessage            `json:"-"` // not marshalled
}

var createdTaskCodec = flex.NewCodec[CreatedTask]()

// UnmarshalJSON decodes the reply tolerantly.
func (t *CreatedTask) UnmarshalJSON(b []byte) error { return createdTaskCodec.Decode(b, t) }

// MarshalJSON writes the reply with the platform's member names.
func (t CreatedTask) MarshalJSON() ([]byte, error) { return createdTaskCodec.Encode(&t) }

var (
	createEndpoint      = endpoint{method: http.MethodPost, path: "/api/addJson"}
	createAsyncEndpoint = endpoint{method: http.MethodPost, path: "/api/addJsonOfAsync"}
)

// Create creates a task with contacts, or adds them to req.AppendTo, and answers once they are
// imported. The contacts are checked against req.Columns first — phone, required and unknown
// columns, at most MaxImportRows — and nothing is sent when one is wrong. It is a write: not
// retried unless ctx comes from AllowRetry, since a repeat would create a second task.
//
// POST /api/addJson: the synchronous form of platform API 5.7.2 新建外呼任务接口(json方式), seen in
// client code; its page is cut off before it. The reply's fields are inferred.
func (s *TasksService) Create(ctx context.Context, req *CreateTaskRequest) (*CreatedTask, error) {
	return s.create(ctx, createEndpoint, req)
}

// CreateAsync is Create that answers at once: the import runs on the platform, and its result
// comes from ImportResult or the task callback (5.7.15, see SetCallback).
//
// Platform API 5.7.2 新建外呼任务接口(json方式) (POST /api/addJsonOfAsync): project_sn, source,
// client_info_json ({"data":[rows]} as a nested object), ai_user_sn, then, past the page's
// cut-off, is_zidong and the recall fields as clients send them. The reply's fields are inferred.
func (s *TasksService) CreateAsync(ctx context.Context, req *CreateTaskRequest) (*CreatedTask, error) {
	return s.create(ctx, createAsyncEndpoint, req)
}

func (s *TasksService) create(ctx context.Context, ep endpoint, req *CreateTaskRequest) (*CreatedTask, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	rows, err := req.rows()
	if err != nil {
		return nil, err
	}
	return s.send(ctx, ep, req.params(rowBatch{rows, 0}))
}

// rows checks the contacts against the columns, for one import.
func (req *CreateTaskRequest) rows() (*contactRows, error) {
	if len(req.Contacts) > MaxImportRows {
		return nil, invalid("Contacts", "%d rows: one import takes at most %d (use ImportInBatches)", len(req.Contacts), MaxImportRows)
	}
	return req.Columns.rows(req.Contacts, MaxImportRows)
}

func (s *TasksService) send(ctx context.Context, ep endpoint, p *Params) (*CreatedTask, error) {
	r, err := s.client.call(ctx, ep, p)
	if err != nil {
		return nil, err
	}
	task := &CreatedTask{Raw: r.data}
	if len(r.data) > 0 && r.data[0] == '{' { // the reply is undocumented: take what is there
		if err := task.UnmarshalJSON(r.data); err != nil {
			return nil, s.client.decodeErr(ep, err)
		}
	}
	return task, nil
}

// BatchImport is how far ImportInBatches got.
type BatchImport struct {
	Task    *CreatedTask // the task the contacts went to; nil when the first batch failed
	Sent    int          // contacts the platform accepted for import, in whole batches
	Batches int          // batches accepted
}

// ImportInBatches imports any number of contacts: the first batch of at most batchSize
// (MaxImportRows when 0) creates the task — or goes to req.AppendTo — and the others are appended
// to it by its dial_task_main_sn, since new tasks are limited to 100 a day. Every contact is checked
// before the first batch is sent. Batches use CreateAsync; check each with ImportResult.
//
// When a batch fails, ImportInBatches stops and returns what was sent so far with the error;
// resume with req.AppendTo set to the returned task's SN and the contacts from Sent on. Like
// Create, it is not retried unless ctx comes from AllowRetry. ImportBatches does the same one
// batch at a time.
//
// Platform API 5.7.2 新建外呼任务接口(json方式) (POST /api/addJsonOfAsync), once per batch; see
// CreateAsync. That the reply names the new task's dial_task_main_sn is inferred.
func (s *TasksService) ImportInBatches(ctx context.Context, req *CreateTaskRequest, batchSize int) (*BatchImport, error) {
	var res *BatchImport
	for got, err := range s.ImportBatches(ctx, req, batchSize) {
		if err != nil {
			return got, err
		}
		res = got
	}
	return res, nil
}

// ImportBatches is ImportInBatches one batch at a time: after each batch the platform accepted it
// yields how far the import got, so that a caller can report it, or wait for the batch's import
// (ImportInfo) before the next one is sent. Breaking out of the loop sends no more batches. A
// failure is yielded last, with how far the import got (nil when nothing was sent).
//
// Platform API 5.7.2 新建外呼任务接口(json方式) (POST /api/addJsonOfAsync), once per batch; see
// ImportInBatches.
func (s *TasksService) ImportBatches(ctx context.Context, req *CreateTaskRequest, batchSize int) iter.Seq2[*BatchImport, error] {
	return func(yield func(*BatchImport, error) bool) {
		if batchSize < 0 || batchSize > MaxImportRows {
			yield(nil, invalid("batchSize", "must be between 1 and %d, or 0 for the maximum", MaxImportRows))
			return
		}
		if batchSize == 0 {
			batchSize = MaxImportRows
		}
		if err := req.check(); err != nil {
			yield(nil, err)
			return
		}
		rows, err := req.Columns.rows(req.Contacts, batchSize)
		if err != nil {
			yield(nil, err)
			return
		}
		next := *req
		res := &BatchImport{}
		for b := range rows.sizes {
			n := min(batchSize, len(req.Contacts)-res.Sent)
			created, err := s.send(ctx, createAsyncEndpoint, next.params(rowBatch{rows, b}))
			if err != nil {
				yield(res.copy(), fmt.Errorf("digelao: batch %d (contacts %d to %d): %w", res.Batches+1, res.Sent, res.Sent+n-1, err))
				return
			}
			res.Sent += n
			res.Batches++
			if res.Task == nil {
				res.Task = created
				if next.AppendTo == "" && res.Sent < len(req.Contacts) {
					if created.SN == "" {
						yield(res.copy(), &APIError{HTTPStatus: http.StatusOK, Method: http.MethodPost, Path: createAsyncEndpoint.path,
							Msg: "the reply names no dial_task_main_sn to append the other batches to"})
						return
					}
					next.AppendTo = created.SN
				}
			}
			if !yield(res.copy(), nil) {
				return
			}
		}
	}
}

// copy returns a copy of b, so that what ImportBatches yields stays as it was.
func (b *BatchImport) copy() *BatchImport {
	c := *b
	return &c
}
