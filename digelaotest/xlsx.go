package digelaotest

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/digelao-go/digelao"
)

// xlsxType is the Content-Type of an xlsx download.
const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// writeXLSX returns a minimal, valid xlsx workbook of one sheet holding rows as inline strings.
// The bytes are deterministic.
func writeXLSX(rows [][]string) []byte {
	var sheet strings.Builder
	sheet.WriteString(xml.Header + `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	for i, row := range rows {
		r := strconv.Itoa(i + 1)
		sheet.WriteString(`<row r="` + r + `">`)
		for j, cell := range row {
			sheet.WriteString(`<c r="` + colName(j) + r + `" t="inlineStr"><is><t xml:space="preserve">`)
			_ = xml.EscapeText(&sheet, []byte(cell))
			sheet.WriteString(`</t></is></c>`)
		}
		sheet.WriteString(`</row>`)
	}
	sheet.WriteString(`</sheetData></worksheet>`)
	const rels = "http://schemas.openxmlformats.org/package/2006/relationships"
	const docRels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
	parts := [][2]string{
		{"[Content_Types].xml", xml.Header + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
			`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`},
		{"_rels/.rels", xml.Header + `<Relationships xmlns="` + rels + `"><Relationship Id="rId1" Type="` + docRels +
			`/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", xml.Header + `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="` +
			docRels + `"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", xml.Header + `<Relationships xmlns="` + rels + `"><Relationship Id="rId1" Type="` +
			docRels + `/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`},
		{"xl/worksheets/sheet1.xml", sheet.String()},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: p[0], Method: zip.Deflate, Modified: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err == nil {
			_, err = io.WriteString(w, p[1])
		}
		if err != nil {
			panic(err) // writing to memory cannot fail
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// colName returns the spreadsheet column name of index i: A, B, …, Z, AA, ….
func colName(i int) string {
	name := ""
	for i++; i > 0; i = (i - 1) / 26 {
		name = string(rune('A'+(i-1)%26)) + name
	}
	return name
}

// colIndex returns the column index of a cell reference such as "C7".
func colIndex(ref string) int {
	n := 0
	for _, r := range ref {
		if r < 'A' || r > 'Z' {
			break
		}
		n = n*26 + int(r-'A'+1)
	}
	return n - 1
}

type xlsxText struct {
	T    string `xml:"t"`
	Runs []struct {
		T string `xml:"t"`
	} `xml:"r"`
}

func (x *xlsxText) text() string {
	if x == nil {
		return ""
	}
	s := x.T
	for _, r := range x.Runs {
		s += r.T
	}
	return s
}

// readXLSX returns the cells of the first worksheet of an xlsx file: shared, inline and plain
// strings, and numbers as written.
func readXLSX(data []byte) ([][]string, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	files := map[string]*zip.File{}
	var sheets []string
	for _, f := range zr.File {
		files[f.Name] = f
		if dir, _ := path.Split(f.Name); dir == "xl/worksheets/" && strings.HasSuffix(f.Name, ".xml") {
			sheets = append(sheets, f.Name)
		}
	}
	if len(sheets) == 0 {
		return nil, errors.New("no worksheet")
	}
	sort.Strings(sheets)
	var shared []string
	if f := files["xl/sharedStrings.xml"]; f != nil {
		var sst struct {
			SI []xlsxText `xml:"si"`
		}
		if err := decodeXML(f, &sst); err != nil {
			return nil, err
		}
		for i := range sst.SI {
			shared = append(shared, sst.SI[i].text())
		}
	}
	var ws struct {
		Rows []struct {
			Cells []struct {
				Ref  string    `xml:"r,attr"`
				Type string    `xml:"t,attr"`
				V    string    `xml:"v"`
				IS   *xlsxText `xml:"is"`
			} `xml:"c"`
		} `xml:"sheetData>row"`
	}
	if err := decodeXML(files[sheets[0]], &ws); err != nil {
		return nil, err
	}
	var out [][]string
	for _, row := range ws.Rows {
		var cells []string
		for i, c := range row.Cells {
			col := i
			if c.Ref != "" {
				col = colIndex(c.Ref)
			}
			if col < 0 || col > 1<<14 {
				return nil, errors.New("bad cell reference")
			}
			v := c.V
			switch c.Type {
			case "s":
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 || n >= len(shared) {
					return nil, errors.New("bad shared string")
				}
				v = shared[n]
			case "inlineStr":
				v = c.IS.text()
			}
			for len(cells) <= col {
				cells = append(cells, "")
			}
			cells[col] = v
		}
		out = append(out, cells)
	}
	return out, nil
}

func decodeXML(f *zip.File, v any) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	return xml.NewDecoder(io.LimitReader(rc, maxRequestBody)).Decode(v)
}

// uploadRows reads the xlsx uploaded as "upload": its first row names the columns ("*" removed
// later), each further non-empty row is one row. No file or no rows is 30001; a file that is not a
// readable xlsx is 30002 (the fake reads xlsx, not the older xls).
func uploadRows(c *call) ([]*array, error) {
	up, ok := c.files["upload"]
	if !ok || len(up.data) == 0 {
		return nil, fail(digelao.CodeImportEmpty)
	}
	if ext := strings.ToLower(path.Ext(up.name)); ext != ".xlsx" && ext != ".xls" {
		return nil, fail(digelao.CodeImportFormat)
	}
	table, err := readXLSX(up.data)
	if err != nil {
		return nil, fail(digelao.CodeImportFormat)
	}
	var rows []*array
	for _, cells := range table[min(1, len(table)):] {
		row, blank := &array{}, true
		for i, h := range table[0] {
			v := ""
			if i < len(cells) {
				v = strings.TrimSpace(cells[i])
			}
			blank = blank && v == ""
			if h != "" {
				row.set(h, v)
			}
		}
		if !blank {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return nil, fail(digelao.CodeImportEmpty)
	}
	return rows, nil
}
