// Package digelaotest is an in-process fake of the 狄阁老 AI call-center platform, for tests of
// the SDK and of code built on it, for the offline quickstart, and for a mock command.
//
// It is faithful where a client can tell: it decodes requests as the PHP platform does (bodies
// whose Content-Type contains "json" with json_decode, query strings and forms exactly as PHP's
// parse_str and $_POST read them, multipart fields; a POST of another Content-Type has no
// parameters) and checks the anti-hijack "url" of every call but login by re-encoding them with
// json_encode's rules, so a client that gets key
// order, escaping, number formatting or the Content-Type wrong fails here as it would in
// production. Errors are {"code":…,"msg":…} with HTTP 200, replies keep the platform's odd
// shapes, and logins, api_key replacement and expiry follow REFERENCE §3.
//
// Behind the API it simulates the platform: an import creates a task, reports progress and pushes
// its result; a running task dials its numbers, writes one call record per call and pushes it to
// the callback URL about a simulated minute after hang-up, retrying until the receiver answers
// SUCCESS. Simulated time runs fast (WithTimeScale) or only on demand (WithManualTime and Flush).
//
// A test starts a Server, points a client at its URL, and inspects what happened:
//
//	srv := digelaotest.NewServer()
//	defer srv.Close()
//	c, _ := digelao.New(srv.URL, digelao.WithPassword(digelaotest.Username, digelaotest.Password))
//	// … use c …
//	_ = srv.Flush(ctx) // run every pending call and push now
//	records := srv.CallRecords()
//
// Where the documentation is silent the fake makes a choice and says so in the doc comment of
// the endpoint ("[inferred]").
package digelaotest
