package digelao_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// simChina is the platform's zone: it reads and writes times in China time, to the second.
var simChina = time.FixedZone("CST", 8*3600)

// simRecord is a call record on the simulated platform. The platform's list changes in versions:
// each listing and each deletion is one, so that a sweep can tell what was listed all through it.
type simRecord struct {
	ord      int // its place in the order of creation, from 0
	sn       string
	created  time.Time // hang-up: created_at and disconnected_at, to the second
	listed   time.Time // when the platform lists it: created, or later for a late insert
	listedV  int       // the list's version that listed it; 0 not yet
	deletedV int       // the list's version that deleted it; 0 while it exists
	refused  bool      // the sink always refuses it
	row      []byte    // its JSON, as listed and as pushed
	tries    int       // push tries that reached a replica
	ok       int       // of them, answered SUCCESS
}

// listedThrough reports whether the list held r from version from to version to.
func (r *simRecord) listedThrough(from, to int) bool {
	return r.listedV != 0 && r.listedV <= from && (r.deletedV == 0 || r.deletedV > to)
}

func (r *simRecord) exists() bool { return r.listedV != 0 && r.deletedV == 0 }

// crmQuery is one request of 6.1 /api/crmList as the platform reads it.
type crmQuery struct {
	from, to   time.Time // start_create_at, end_create_at; zero when not sent
	page, size int       // pageIndex, and the page size the platform uses
}

// simPlatform answers 6.1 /api/crmList as the platform does — offset paging of a list that may
// change between two pages, newest first — to every replica's client, as an http.RoundTripper:
// no sockets, and every request answered on the caller's goroutine. Its replies carry the
// platform's time as their Date.
type simPlatform struct {
	clock   simClock
	records []*simRecord // in the order of creation
	bySN    map[string]*simRecord
	version int
	pageCap int // the platform's own cap on pageSize; 0 none
	// beforePage runs before each page after the first of a request's window is served, with
	// the rows of that window in the order they were paged: the faults that change the list
	// between two pages.
	beforePage func(q crmQuery, rows []*simRecord)
	sweep      *sweepObs // the sweep under way, nil between sweeps
	unexpected []string  // requests the platform does not serve
	requests   int       // crmList requests served
	served     int       // rows they held
	cached     simMatch  // the latest window matched, while the list has not changed
}

// simMatch is the rows a window matched at a version of the list.
type simMatch struct {
	version  int
	from, to time.Time
	rows     []*simRecord
}

// sweepObs is what the platform saw of one sweep.
type sweepObs struct {
	replica  *simReplica
	v0       int             // the list's version when the sweep began
	returned map[string]bool // sn of every record a page returned
	requests int
	changes  int // faults that changed the list while it paged
	// reads holds, for each window the sweep pages, what its latest read from page 0 on could
	// see of the list's changes.
	reads map[[2]time.Time]*simRead
}

// simRead is what one read of a window, page after page, showed of the list's changes: a signal
// when a page's total differed from the page before's, or it repeated an item of the page before.
// Without one, a removal and an insertion before the offset hid each other from any pager.
type simRead struct {
	total  int
	last   map[string]bool
	signal bool
}

// page notes a page of q's window that said total and held rows.
func (o *sweepObs) page(q crmQuery, total int, rows []*simRecord) {
	w := [2]time.Time{q.from, q.to}
	rd := o.reads[w]
	if q.page == 0 || rd == nil {
		rd = &simRead{total: total}
		o.reads[w] = rd
	}
	keys := make(map[string]bool, len(rows))
	for _, r := range rows {
		keys[r.sn] = true
		rd.signal = rd.signal || rd.last[r.sn]
	}
	rd.signal = rd.signal || total != rd.total
	rd.total, rd.last = total, keys
}

// hidden reports whether every window of the sweep that holds created, as last read, showed no
// sign of the list's changes.
func (o *sweepObs) hidden(created time.Time) bool {
	for w, rd := range o.reads {
		if !created.Before(w[0]) && !created.After(w[1]) && rd.signal {
			return false
		}
	}
	return true
}

func newSimPlatform(clock simClock, pageCap int) *simPlatform {
	return &simPlatform{clock: clock, bySN: map[string]*simRecord{}, pageCap: pageCap}
}

// create adds a record that hung up at end, not listed yet, and returns it.
func (p *simPlatform) create(end time.Time, seed uint64) *simRecord {
	end = end.Truncate(time.Second)
	ord := len(p.records)
	talk := 5 + ord%170
	r := &simRecord{ord: ord, sn: fmt.Sprintf("account|%016x%016x", seed, ord+1), created: end}
	r.row = fmt.Appendf(nil, `{"id":%d,"sn":%q,"phone":"138%08d","created_at":%q,"connected_at":%q,"disconnected_at":%q,"talktimes":%d}`,
		ord+1, r.sn, ord, simTime(end), simTime(end.Add(-time.Duration(talk)*time.Second)), simTime(end), talk)
	p.records = append(p.records, r)
	p.bySN[r.sn] = r
	return r
}

// list makes r appear in the list from now on.
func (p *simPlatform) list(r *simRecord) {
	p.version++
	r.listed, r.listedV = p.clock.now(), p.version
}

// remove deletes r from the list (a task deleted in the console).
func (p *simPlatform) remove(r *simRecord) {
	p.version++
	r.deletedV = p.version
}

func simTime(t time.Time) string { return t.In(simChina).Format(time.DateTime) }

// RoundTrip implements http.RoundTripper.
func (p *simPlatform) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	if req.Method != http.MethodPost || req.URL.Path != "/api/crmList" {
		p.unexpected = append(p.unexpected, req.Method+" "+req.URL.Path)
		return p.reply(req, http.StatusNotFound, []byte(`{"code":404,"msg":"not found"}`)), nil
	}
	q, err := readCRMQuery(body)
	if err != nil {
		p.unexpected = append(p.unexpected, "crmList: "+err.Error())
		return p.reply(req, http.StatusOK, []byte(`{"code":20002,"msg":"数据格式错误"}`)), nil
	}
	if p.pageCap > 0 {
		q.size = min(q.size, p.pageCap)
	}
	if q.page > 0 && p.beforePage != nil {
		p.beforePage(q, p.match(q))
	}
	if err := req.Context().Err(); err != nil { // the replica was stopped
		return nil, err
	}
	rows := p.match(q)
	total := len(rows)
	rows = rows[min(q.page*q.size, total):min((q.page+1)*q.size, total)]
	if p.sweep != nil {
		p.sweep.page(q, total, rows)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"code":0,"msg":"ok","data":{"total":%d,"list":[`, total)
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r.row)
		if p.sweep != nil {
			p.sweep.returned[r.sn] = true
		}
	}
	b.WriteString("]}}")
	p.requests++
	p.served += len(rows)
	if p.sweep != nil {
		p.sweep.requests++
	}
	return p.reply(req, http.StatusOK, b.Bytes()), nil
}

// match returns the listed records q's window holds, newest first.
func (p *simPlatform) match(q crmQuery) []*simRecord {
	if c := &p.cached; c.rows != nil && c.version == p.version && c.from.Equal(q.from) && c.to.Equal(q.to) {
		return c.rows
	}
	rows := []*simRecord{}
	for _, r := range p.records {
		if r.exists() && (q.from.IsZero() || !r.created.Before(q.from)) && (q.to.IsZero() || !r.created.After(q.to)) {
			rows = append(rows, r)
		}
	}
	slices.SortStableFunc(rows, func(a, b *simRecord) int {
		return cmp.Or(b.created.Compare(a.created), cmp.Compare(b.ord, a.ord))
	})
	p.cached = simMatch{version: p.version, from: q.from, to: q.to, rows: rows}
	return rows
}

func (p *simPlatform) reply(req *http.Request, status int, body []byte) *http.Response {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Date", p.clock.now().UTC().Format(http.TimeFormat))
	return &http.Response{Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: req}
}

// readCRMQuery reads a crmList body as the platform's PHP would: numbers or numeric strings,
// times in China time.
func readCRMQuery(body []byte) (crmQuery, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return crmQuery{}, err
	}
	text := func(k string) string {
		var s string
		if json.Unmarshal(m[k], &s) != nil {
			s = string(m[k])
		}
		return strings.TrimSpace(s)
	}
	q := crmQuery{size: 10} // 6.1's default
	var err error
	for _, f := range []struct {
		key string
		to  *time.Time
	}{{"start_create_at", &q.from}, {"end_create_at", &q.to}} {
		if s := text(f.key); s != "" {
			if *f.to, err = time.ParseInLocation(time.DateTime, s, simChina); err != nil {
				return q, fmt.Errorf("%s: %w", f.key, err)
			}
		}
	}
	for _, f := range []struct {
		key string
		to  *int
	}{{"pageIndex", &q.page}, {"pageSize", &q.size}} {
		if s := text(f.key); s != "" {
			if *f.to, err = strconv.Atoi(s); err != nil || *f.to < 0 {
				return q, fmt.Errorf("%s %q", f.key, s)
			}
		}
	}
	if q.size == 0 {
		q.size = 10
	}
	return q, nil
}
