// Package digelao is a typed client for the 狄阁老 (Di Gelao) AI call-center platform: the SaaS
// call center that places AI outbound calls, answers calls and pushes call records back.
//
// # Start here
//
// Run the quickstart, which walks the whole flow offline against the fake platform:
//
//	go run github.com/digelao-go/digelao/examples/quickstart@latest
//
// A Client holds the platform's three common parameters: user_sn and api_key, obtained by logging
// in (WithAccessKey for login 1.2, WithPassword for login 1.3) or given fixed (WithAPIKey), and
// the base URL of the account's console. It signs every request with the third, "url", exactly as
// the platform's PHP server checks it, shares one api_key among all callers, logs in again once
// when the key is refused, and maps the platform's codes to errors that match sentinels such as
// ErrAPIKeyExpired with errors.Is. A reply it does not understand is an error (ErrBadReply), never
// a success.
//
//	c, err := digelao.New("https://ai123.example.com", digelao.WithPassword(user, pass))
//	if err != nil {
//		return err
//	}
//	err = c.SetCallback(ctx, &digelao.CallbackRequest{Open: true,
//		CallbackURL: "https://crm.example.com/digelao/push", Token: digelao.NewSecret(token)})
//
// Typed services cover the documented API areas — c.Tasks, c.Records and c.Templates for the
// everyday flow, c.Accounts, c.CallTimes, c.Customers and c.Blacklist for administration; every
// paged list has an All iterator; Client.Do calls any other endpoint with ordered Params.
//
// # Call records and pushes
//
// PushHandler receives the platform's pushes (call records, import results, task analytics) and
// answers SUCCESS only once they are handled; SetCallback with a CallbackRequest.Token points the
// platform at it. RecordSync gets every call record into your system exactly once, joining pushes
// with sweeps of the call-record list: plug rs.Push into PushHandler.OnCallRecord and run rs.Run.
//
// # Tests and replicas
//
// Package digelaotest is the platform in a box for your tests (a fake server, sample pushes and
// push requests). Package redisstore shares the session, the push de-duplication and the record
// sync's state among replicas through Redis.
//
// Section numbers in doc comments ("Platform API 9.1") refer to the platform's documentation; what
// the documentation does not state and the SDK infers is marked as such.
package digelao
