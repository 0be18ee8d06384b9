package digelaotest

import (
	"bytes"
	"io"
	"net/http"
	"time"
)

// PushKind says what a push carries.
type PushKind string

// The kinds of push.
const (
	PushCall   PushKind = "call"   // a call record (6.6.1) to callback_url
	PushImport PushKind = "import" // an import result (5.7.15) to task_callback_url
)

// Push is one attempt to deliver a push. Pushes are POSTed as a PHP-encoded JSON object with
// Content-Type application/json; an attempt succeeds when the receiver answers a 2xx status with
// the body SUCCESS exactly. A failed attempt is retried WithPushRetry's interval later, up to its
// number of tries (default 3 in all). Import pushes follow the same rule [inferred: 5.7.15 does
// not say what the receiver answers].
type Push struct {
	Kind    PushKind
	UserSN  string    // the account it belongs to
	URL     string    // where it was sent
	Body    []byte    // the JSON sent
	Attempt int       // 1 for the first try
	At      time.Time // simulated time of the attempt
	Status  int       // HTTP status; 0 when there was no reply
	Reply   string    // the start of the reply body
	Err     error     // a transport error, or ErrClosed
	OK      bool      // the receiver answered SUCCESS
}

// Pushes returns every push attempt made so far, oldest first.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Push(nil), s.pushes...)
}

// pushJob is one attempt of a push, waiting to be sent.
type pushJob struct {
	kind    PushKind
	t       *tenant
	url     string
	rec     *record // for PushCall
	task    *task   // for PushImport
	attempt int
	at      time.Time
}

// dispatch starts sending j on its own goroutine. Called with s.mu held.
func (s *Server) dispatch(j *pushJob) {
	if s.sched.closed {
		return
	}
	var v *array
	if j.kind == PushCall {
		v = j.rec.row()
	} else {
		v = obj("dial_task_main_sn", j.task.sn, "import_mark", j.task.mark.array())
	}
	body, err := encodePHP(v)
	if err != nil {
		s.pushes = append(s.pushes, Push{Kind: j.kind, UserSN: j.t.acct.UserSN, URL: j.url, Attempt: j.attempt, At: j.at, Err: err})
		return
	}
	s.sched.inflight++
	s.wg.Add(1)
	go s.deliver(j, body)
}

// maxReply bounds how much of a receiver's reply is read.
const maxReply = 4 << 10

func (s *Server) deliver(j *pushJob, body []byte) {
	defer s.wg.Done()
	p := Push{Kind: j.kind, UserSN: j.t.acct.UserSN, URL: j.url, Body: body, Attempt: j.attempt, At: j.at}
	select {
	case s.pushSlots <- struct{}{}:
		p.Status, p.Reply, p.Err = s.post(j.url, body)
		<-s.pushSlots
	case <-s.ctx.Done():
		p.Err = ErrClosed
	}
	p.OK = p.Err == nil && p.Status/100 == 2 && p.Reply == "SUCCESS"
	s.cfg.log.Debug("digelaotest push", "kind", j.kind, "url", j.url, "attempt", j.attempt, "status", p.Status, "ok", p.OK, "error", p.Err)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushes = append(s.pushes, p)
	switch {
	case p.OK && j.rec != nil:
		j.rec.pushed = true
	case !p.OK && j.attempt < s.cfg.pushTries && !s.sched.closed:
		next := *j
		next.attempt++
		s.after(j.at, s.cfg.pushGap, func(at time.Time) {
			next.at = at
			s.dispatch(&next)
		})
	}
	s.sched.inflight--
	s.sched.notify()
}

// post sends one push and returns the reply's status and the start of its body.
func (s *Server) post(url string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	return resp.StatusCode, string(b), err
}
