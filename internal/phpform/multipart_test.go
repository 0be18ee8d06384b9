package phpform

import (
	"bytes"
	"io"
	"mime/multipart"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAllParts collects what Parts yields from r.
func readAllParts(r io.Reader, boundary string) (names []string, data []string, err error) {
	for p, e := range Parts(r, boundary) {
		if e != nil {
			return names, data, e
		}
		names = append(names, p.Name)
		data = append(data, string(p.Data))
	}
	return names, data, nil
}

// stdParts is what mime/multipart itself reads from body (with a plain io.EOF at its end).
func stdParts(body, boundary string) (names []string, err error) {
	mr := multipart.NewReader(strings.NewReader(body), boundary)
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return names, err
		}
		if _, err := io.ReadAll(p); err != nil {
			return names, err
		}
		names = append(names, p.FormName())
	}
}

// dataEOFReader returns its data in chunks of n, the last together with io.EOF.
type dataEOFReader struct {
	s string
	n int
}

func (r *dataEOFReader) Read(b []byte) (int, error) {
	k := min(len(b), r.n, len(r.s))
	copy(b, r.s[:k])
	r.s = r.s[k:]
	if r.s == "" {
		return k, io.EOF
	}
	return k, nil
}

// Valid bodies, through every kind of awkward reader, yield all their parts and no error.
func TestPartsValidBodiesAnyReader(t *testing.T) {
	t.Parallel()
	b70 := strings.Repeat("b", 70)
	head := func(bd, nl string) string {
		return "--" + bd + nl + `Content-Disposition: form-data; name="a"` + nl + nl + "1" + nl +
			"--" + bd + nl + `Content-Disposition: form-data; name="b"` + nl + nl + "2" + nl
	}
	bodies := map[string]string{
		"crlf":                      head("XX", "\r\n") + "--XX--\r\n",
		"crlf no break":             head("XX", "\r\n") + "--XX--",
		"crlf ws after":             head("XX", "\r\n") + "--XX-- \t \r\n",
		"crlf ws no break":          head("XX", "\r\n") + "--XX-- \t ",
		"crlf epilogue":             head("XX", "\r\n") + "--XX--\r\nepilogue\r\nmore",
		"crlf 100 spaces, break":    head("XX", "\r\n") + "--XX--" + strings.Repeat(" ", 100) + "\r\n",
		"boundary of 70":            head(b70, "\r\n") + "--" + b70 + "--",
		"boundary of 70 with break": head(b70, "\r\n") + "--" + b70 + "--\r\n",
		"lf":                        head("XX", "\n") + "--XX--\n",
	}
	checkBodies(t, bodies, b70)
}

func checkBodies(t *testing.T, bodies map[string]string, b70 string) {
	t.Helper()
	readers := map[string]func(string) io.Reader{
		"strings":   func(s string) io.Reader { return strings.NewReader(s) },
		"onebyte":   func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"dataerr":   func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) },
		"half":      func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
		"data+EOF3": func(s string) io.Reader { return &dataEOFReader{s: s, n: 3} },
		"data+EOF1": func(s string) io.Reader { return &dataEOFReader{s: s, n: 1} },
	}
	for name, body := range bodies {
		bd := "XX"
		if strings.HasPrefix(name, "boundary of 70") {
			bd = b70
		}
		std, stdErr := stdParts(body, bd)
		for rn, mk := range readers {
			names, data, err := readAllParts(mk(body), bd)
			if !assert.NoError(t, err, "%s via %s (mime/multipart alone: %v, err %v)", name, rn, std, stdErr) {
				continue
			}
			assert.Equal(t, []string{"a", "b"}, names, "%s via %s", name, rn)
			assert.Equal(t, []string{"1", "2"}, data, "%s via %s", name, rn)
		}
	}
}

// A body framed with bare line feeds whose close delimiter ends it without one reads whole, as
// mime/multipart reads it.
func TestPartsLFCloseWithoutBreak(t *testing.T) {
	t.Parallel()
	body := "--XX\nContent-Disposition: form-data; name=\"a\"\n\n1\n" +
		"--XX\nContent-Disposition: form-data; name=\"b\"\n\n2\n--XX--"
	checkBodies(t, map[string]string{"lf no break": body}, "")
}

// A close delimiter padded with blanks, however many, and no line break ends the body, as
// mime/multipart reads it.
func TestPartsPaddedCloseWithoutBreak(t *testing.T) {
	t.Parallel()
	body := "--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--XX--" + strings.Repeat(" ", 100)
	checkBodies(t, map[string]string{"crlf 100 spaces, no break": body}, "")
}

// Every proper prefix of a valid body is an error, whatever the reader; the close delimiter split
// at every point across two reads still ends the body well.
func TestPartsPrefixesAndSplits(t *testing.T) {
	t.Parallel()
	const body = "--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--XX--\r\n"
	okLen := map[int]bool{len(body): true, len(body) - 2: true}
	for n := range len(body) + 1 {
		for rn, r := range map[string]io.Reader{
			"onebyte": iotest.OneByteReader(strings.NewReader(body[:n])),
			"dataerr": iotest.DataErrReader(strings.NewReader(body[:n])),
			"half":    iotest.HalfReader(strings.NewReader(body[:n])),
		} {
			names, _, err := readAllParts(r, "XX")
			if okLen[n] {
				require.NoError(t, err, "%q via %s", body[:n], rn)
				require.Equal(t, []string{"a", "b"}, names)
			} else {
				require.Error(t, err, "%q via %s", body[:n], rn)
			}
		}
	}
	for cutAt := range len(body) + 1 {
		r := io.MultiReader(strings.NewReader(body[:cutAt]), strings.NewReader(body[cutAt:]))
		names, _, err := readAllParts(r, "XX")
		require.NoError(t, err, "split at %d", cutAt)
		require.Equal(t, []string{"a", "b"}, names)
	}
}

// What the SDK's own multipart writer produces (mime/multipart.Writer, as upload.go uses it)
// reads back whole.
func TestPartsReadsMultipartWriter(t *testing.T) {
	t.Parallel()
	for _, fields := range []int{0, 1, 5} {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for i := range fields {
			require.NoError(t, mw.WriteField(strings.Repeat("f", i+1), strings.Repeat("v", 5000*i)))
		}
		fw, err := mw.CreateFormFile("upload", "x.xlsx")
		require.NoError(t, err)
		_, _ = fw.Write(bytes.Repeat([]byte("\r\n--"), 3000))
		require.NoError(t, mw.Close())
		for _, r := range []io.Reader{bytes.NewReader(buf.Bytes()), iotest.OneByteReader(bytes.NewReader(buf.Bytes())),
			iotest.DataErrReader(bytes.NewReader(buf.Bytes()))} {
			names, _, err := readAllParts(r, mw.Boundary())
			require.NoError(t, err)
			assert.Len(t, names, fields+1)
		}
	}
}
