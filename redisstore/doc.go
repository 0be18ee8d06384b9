// Package redisstore keeps the SDK's shared state in Redis, so that every replica of a service
// — every process and every host — acts as one client towards the platform.
//
// # One api_key for all replicas
//
// A platform api_key lives two hours, and a new login on an account cancels the key every other
// caller holds. Replicas that each logged in would keep canceling one another's keys. A Store
// passed to digelao.WithTokenStore prevents that: the session lives under one Redis key, and a
// replica that needs a new one first takes a Redis lock (SET NX PX with a random owner token), so
// exactly one replica logs in while the others wait for the session it stores. A session the
// platform refused is removed only if it is still the one stored (compare-and-delete in a Lua
// script), so a newer key stored meanwhile by another replica survives.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379"})
//	store, err := redisstore.New(rdb)
//	c, err := digelao.New(baseURL, digelao.WithPassword(user, pass), digelao.WithTokenStore(store))
//
// The stored session is JSON and holds the api_key: protect the Redis instance (network access,
// AUTH/ACL, TLS) as you would the account's password. The key expires in Redis when the api_key
// does. The Store logs only what it repairs (WithLogger), and never a session.
//
// # When Redis is down
//
// Every method returns an error wrapped as "redisstore: <operation>: <cause>", for example
// "redisstore: get: dial tcp 10.0.0.5:6379: connect: connection refused". The SDK then fails the
// call with that error rather than logging in on its own: a login without the shared lock would
// cancel the key of every other replica. A client that already holds a valid session keeps using
// it from memory until it expires or is refused.
//
// # De-duplication
//
// Store also implements digelao.DedupStore: the platform may deliver a push more than once, to any
// replica, and Claim lets exactly one of them handle it. Its keys live under prefix + "dedup:",
// holding "done" or "claim:" and the token of the delivery that claimed them: Release deletes a
// claim only while it holds the releasing delivery's token (compare-and-delete in Lua), so a
// delivery whose claim lapsed cannot end the claim of the redelivery that took it over. Any other
// key — not a string, a claim without expiry, a string that is neither — is taken over by the
// next Claim and logged, rather than refusing its record until someone deletes it.
//
// # Record sync
//
// Store also implements digelao.SyncStore, so that the replicas of a digelao.RecordSync share one
// memory of delivered records (the de-duplication marks, "record:" keys), one checkpoint and one
// sweep lease:
//
//	rs, err := digelao.NewRecordSync(c, sink, digelao.WithSyncStore(store))
//
// The lease is taken with SET NX PX for a random owner per replica and extended only by that
// owner, in one Lua script; a replica that dies stops renewing it, and it lapses after its TTL. A
// lease key without expiry (no Store leaves one) is given the TTL and logged, so it lapses too.
// The checkpoint is stored without expiry as an RFC 3339 time in UTC, so an operator can read it
// with redis-cli, set it (to sweep from there) or delete it (to sweep the look-back). A value that
// is no such time fails Checkpoint, and with it every sweep, until it is set or deleted: reading it
// as "none" would sweep only the look-back and could miss the records before it.
//
// # Keys
//
// Every Redis key is the prefix (WithPrefix, default "digelao:") and the key the SDK passes: under
// "dedup:" for a de-duplication mark, and followed by ":lock", ":checkpoint" or ":lease" for the
// lock of a session and the state of a sync. The SDK's keys name no secret and are bounded:
//
//	prefix + "session:<digest>"          the session (a digest of base URL and account)
//	prefix + "session:<digest>:lock"     its refresh lock
//	prefix + "dedup:call:<digest>"       a call record a PushHandler handled (a digest of its sn)
//	prefix + "dedup:record:<digest>"     a call record a RecordSync delivered (a digest of its sn)
//	prefix + "sync:<digest>:checkpoint"  the account's RecordSync checkpoint (the session's digest)
//	prefix + "sync:<digest>:lease"       its sweep lease
//
// Each command touches one key, so a Redis Cluster client works too.
package redisstore
