package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/mailmsg"
	"github.com/rooms-export/rooms-export/shared/render"
)

// Result is a successful rooms.export answer. Rate is set whenever the call
// was counted by the rate limiter, on errors too, so that the X-RateLimit-*
// headers go out with every answer.
type Result struct {
	ExportID  string
	Status    string
	URL       string
	ExpiresAt time.Time
	Missing   []string // email: usernames that could not be resolved to an address
	Email     bool
	Rate      *RateDecision
}

// Body is the JSON answer: {"success": true, ...}.
func (r Result) Body() map[string]any {
	b := map[string]any{"success": true}
	if r.ExportID != "" {
		b["exportId"] = r.ExportID
		b["status"] = r.Status
	}
	if r.URL != "" {
		b["url"] = r.URL
		b["expiresAt"] = r.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if r.Email {
		missing := r.Missing
		if missing == nil {
			missing = []string{}
		}
		b["missing"] = missing
	}
	return b
}

// Export serves POST rooms.export. The checks run in the order of SPEC §1.1 —
// authentication, body, rate limit, mail-messages, room, access, then the
// type-specific ones — so a caller without the permission learns nothing
// about whether a room exists. linkBase is the public base URL download
// links are built on.
func (s *Service) Export(ctx context.Context, c Credentials, body []byte, linkBase string) (Result, error) {
	if r := s.Running; r != nil {
		r.Add(1)
		defer r.Add(-1)
	}
	if c.UserID == "" || c.Token == "" {
		return Result{}, errUnauthorized
	}
	// The records the checks need go out with the caller's token and user,
	// all at once (on DynamoDB one BatchGetItem: one round trip, not two or
	// more), and are looked at in SPEC order: nothing read for the request
	// is used before the caller is authenticated. The subscription is read
	// for the claimed user id, which authentication proves. A body that
	// does not parse asks for the token and user alone, and its error
	// waits for them.
	req, reqErr := ParseRequest(body)
	keys := authKeys(c)
	if reqErr == nil {
		keys = append(keys,
			RecordKey{Kind: RecordPermission, ID: PermBypassRate}, RecordKey{Kind: RecordPermission, ID: PermMailMessages},
			RecordKey{Kind: RecordPermission, ID: PermViewChannel},
			RecordKey{Kind: RecordSubscription, ID: req.RoomID, User: c.UserID}, RecordKey{Kind: RecordRoom, ID: req.RoomID})
	}
	reads := s.readTogether(ctx, keys...)
	u, err := s.authenticated(c, reads[0], reads[1])
	if err != nil {
		return Result{}, err
	}
	if reqErr != nil {
		return Result{}, reqErr
	}
	grant := func(i int, permission string) func() ([]string, error) {
		return func() ([]string, error) {
			res := reads[i]()
			return permissionGrant(permission, res.Roles, res.Err)
		}
	}
	bypass, mailing, viewChannel := grant(2, PermBypassRate), grant(3, PermMailMessages), grant(4, PermViewChannel)
	sub := func() (chat.Subscription, error) { res := reads[5](); return res.Sub, res.Err }
	readRoom := func() (chat.Room, error) { res := reads[6](); return res.Room, res.Err }

	var res Result
	if res.Rate, err = s.rateLimit(ctx, u, bypass); err != nil {
		return res, err
	}
	subRec, err := sub()
	roles, subscribed, err := subscriptionRoles(u, req.RoomID, subRec, err)
	if err != nil {
		return res, err
	}
	granted, err := mailing()
	if err != nil {
		return res, err
	}
	if !grants(granted, roles) {
		return res, chat.E(chat.CodeActionNotAllowed, "Mailing is not allowed")
	}
	room, err := readRoom()
	if errors.Is(err, chat.ErrNotFound) {
		return res, chat.E(chat.CodeInvalidRoom, "Invalid room")
	}
	if err != nil {
		return res, fmt.Errorf("room %s: %w", req.RoomID, err)
	}
	if ok, err := s.canAccess(ctx, u, room, roles, subscribed, 0, viewChannel); err != nil || !ok {
		if err != nil {
			return res, err
		}
		return res, chat.E(chat.CodeNotAllowed, "Not Allowed")
	}

	if req.Type == chat.DeliveryEmail && req.HasMessages {
		res.Email = true
		res.Missing, err = s.mailMessages(ctx, u, room, req)
		return res, err
	}
	from, to, loc, err := req.Range(s.now())
	if err != nil {
		return res, err
	}
	job := chat.Job{
		ID: s.newID(), OwnerID: u.ID, RoomID: room.ID, Type: req.Type, Format: req.Format,
		From: from, To: to, TimeZone: loc.String(), Request: compactJSON(body), LinkBase: linkBase,
	}
	if req.Type == chat.DeliveryEmail {
		res.Email = true
		if job.Recipients, res.Missing, err = s.recipients(ctx, u, req); err != nil {
			return res, err
		}
		if len(job.Recipients) == 0 {
			return res, nil // every recipient is in missing: nothing to send
		}
		job.Subject = subjectFor(req, room)
		job.ReplyTo = firstEmail(u)
	}
	job.DedupKey = dedupKey(job)
	r, err := s.start(ctx, job, known{room: room, owner: u})
	r.Rate, r.Email, r.Missing = res.Rate, res.Email, res.Missing
	return r, err
}

// rateLimit counts the call against the caller's window (SPEC §7); roles with
// api-bypass-rate-limit (bypass: the roles granted it) are not counted.
func (s *Service) rateLimit(ctx context.Context, u chat.User, bypass func() ([]string, error)) (*RateDecision, error) {
	granted, err := bypass()
	if err != nil || grants(granted, u.Roles) {
		return nil, err
	}
	d, err := s.Limiter.Allow(ctx, "rooms.export:"+u.ID, s.Config.RateLimit, s.Config.RateWindow, s.now())
	if err != nil {
		return nil, fmt.Errorf("rate limit: %w", err)
	}
	if !d.Allowed {
		wait := int(d.Reset.Sub(s.now()).Seconds() + 0.999)
		if wait < 1 {
			wait = 1
		}
		e := chat.E(chat.CodeTooManyRequests, "Error, too many requests. Please slow down. You must wait %d seconds before trying this endpoint again.", wait)
		e.RetryAfterSeconds = wait
		return &d, e
	}
	return &d, nil
}

// start creates the job — or returns the running one for an identical
// request (SPEC §7) — and runs it inline for up to Config.InlineBudget: a
// small export answers with its link, a big one with "queued" while the
// worker goes on from where the inline run stopped.
//
// k holds the room and owner the request has read, so the inline run does
// not read them again.
func (s *Service) start(ctx context.Context, job chat.Job, k known) (Result, error) {
	// The document's first page is read beside the duplicate check: a
	// range that fits in it needs no count (and, on DynamoDB, the export
	// one round trip less); a bigger one is counted for its estimate.
	//
	// The page's upload records are asked for as soon as the page is in,
	// ahead of the job's creation: on DynamoDB one round trip of the
	// request less, and the first files can be read while the job is
	// written (below). An identical request's answer does not wait for
	// them.
	first := later(func() (firstPage, error) {
		msgs, more, err := s.Messages.MessagePage(ctx, MessageQuery{RoomID: job.RoomID, From: job.From, To: job.To, Limit: s.Config.PageSize})
		page := firstPage{msgs: msgs, more: more}
		if ids := fileIDs(msgs); err == nil && len(ids) > 0 {
			page.uploads = later(func() (map[string]uploadResult, error) { return s.lookupIDs(ctx, ids, nil), nil })
		}
		return page, err
	})
	if prev, err := s.Jobs.ActiveJob(ctx, job.OwnerID, job.DedupKey); err == nil {
		return Result{ExportID: prev.ID, Status: prev.Status}, nil
	} else if !errors.Is(err, chat.ErrNotFound) {
		return Result{}, fmt.Errorf("active job: %w", err)
	}
	page, err := first()
	if err != nil {
		return Result{}, fmt.Errorf("first page: %w", err)
	}
	if page.uploads != nil && s.Config.AssetsAhead > 0 {
		// On a store whose reads are round trips the first small files
		// are read as soon as their records are in (requestFetches).
		page.fetched = s.fetchFirst(ctx, fileIDs(page.msgs), page.uploads)
		defer page.fetched.close()
	}
	k.first = &page
	total := int64(len(page.msgs))
	if page.more {
		if total, err = s.Messages.CountMessages(ctx, job.RoomID, job.From, job.To); err != nil {
			return Result{}, fmt.Errorf("count messages: %w", err)
		}
	}
	now := s.now()
	// Created running and claimed by this request: start inline; what does
	// not fit the budget is handed to the worker.
	job.Status, job.Attempts, job.Total, job.CreatedAt, job.UpdatedAt = chat.JobRunning, 1, total, now, now
	job.ExpiresAt = now.Add(s.Config.LinkTTL)
	if err := s.Jobs.CreateJob(ctx, job); err != nil {
		return Result{}, fmt.Errorf("create job: %w", err)
	}
	if err := s.execute(ctx, &job, now.Add(s.Config.InlineBudget), &k); err != nil {
		return Result{}, err
	}
	done := job // saved as done by this run: what the store holds
	if job.Status != chat.JobDone {
		// handed over, or taken by another run: the store knows best
		if done, err = s.Jobs.Job(ctx, job.ID); err != nil {
			return Result{}, fmt.Errorf("reload job %s: %w", job.ID, err)
		}
	}
	res := Result{ExportID: done.ID, Status: done.Status}
	if done.Status == chat.JobDone && done.Type == chat.DeliveryFile {
		res.URL, res.ExpiresAt = s.Links.Link(done.LinkBase, done.ID, done.ExpiresAt), done.ExpiresAt
	}
	return res, nil
}

// recipients resolves the addresses of an email export (SPEC §6): toUsers
// to each user's first address (unknown users and users without one are
// returned as missing), toEmails as given. With none at all, the caller's
// own address.
func (s *Service) recipients(ctx context.Context, caller chat.User, req Request) (to, missing []string, err error) {
	seen := map[string]bool{}
	add := func(addr string) error {
		if !mailmsg.ValidAddress(addr) {
			return chat.E(chat.CodeInvalidEmail, "Invalid email %s", addr)
		}
		if key := strings.ToLower(addr); !seen[key] {
			seen[key] = true
			to = append(to, addr)
		}
		return nil
	}
	for _, name := range req.ToUsers {
		u, err := s.Directory.UserByUsername(ctx, name)
		if errors.Is(err, chat.ErrNotFound) || (err == nil && (firstEmail(u) == "" || !u.Active)) {
			missing = append(missing, name)
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("user %q: %w", name, err)
		}
		if err := add(firstEmail(u)); err != nil {
			return nil, nil, err
		}
	}
	for _, addr := range req.ToEmails {
		if err := add(addr); err != nil {
			return nil, nil, err
		}
	}
	if len(req.ToUsers) == 0 && len(req.ToEmails) == 0 && !req.HasMessages {
		own := firstEmail(caller)
		if own == "" {
			return nil, nil, chat.E(chat.CodeInvalidRecipient, "You have no email address; name a recipient")
		}
		if err := add(own); err != nil {
			return nil, nil, err
		}
	}
	return to, missing, nil
}

// mailMessages is Rocket.Chat's form of type=email: exactly the given
// messages of this room, rendered into the mail body.
func (s *Service) mailMessages(ctx context.Context, u chat.User, room chat.Room, req Request) ([]string, error) {
	if len(req.ToUsers) == 0 && len(req.ToEmails) == 0 {
		return nil, chat.E(chat.CodeInvalidRecipient, "Must provide at least one recipient")
	}
	if len(req.Messages) == 0 {
		return nil, chat.E(chat.CodeInvalidMessages, "Must provide at least one message")
	}
	to, missing, err := s.recipients(ctx, u, req)
	if err != nil || len(to) == 0 {
		return missing, err
	}
	msgs, err := s.Messages.MessagesByID(ctx, room.ID, req.Messages)
	if err != nil {
		return nil, fmt.Errorf("messages by id: %w", err)
	}
	loc := time.UTC
	if req.TimeZone != "" {
		loc, _ = time.LoadLocation(req.TimeZone)
	}
	html, text := render.MailBody(room, msgs, loc)
	err = s.Mailer.Send(ctx, Mail{
		From: s.Config.MailFrom, To: to, ReplyTo: firstEmail(u),
		Subject: subjectFor(req, room), HTML: html, Text: text,
	})
	if err != nil {
		return nil, fmt.Errorf("send mail: %w", err)
	}
	return missing, nil
}

func subjectFor(req Request, room chat.Room) string {
	if s := strings.TrimSpace(req.Subject); s != "" {
		return s
	}
	return "Room export: " + room.DisplayName()
}

func firstEmail(u chat.User) string {
	if len(u.Emails) > 0 {
		return u.Emails[0]
	}
	return ""
}

// dedupKey identifies "the same request" for SPEC §7: everything that shapes
// the export, nothing about when it was asked.
func dedupKey(j chat.Job) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d\x00%d\x00%s\x00%s\x00%s",
		j.OwnerID, j.RoomID, j.Type, j.Format, j.From.UnixMilli(), j.To.UnixMilli(), j.TimeZone,
		strings.Join(j.Recipients, ","), j.Subject)
	return hex.EncodeToString(h.Sum(nil))
}

func compactJSON(b []byte) []byte {
	var out strings.Builder
	var v any
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return nil
	}
	return []byte(strings.TrimSpace(out.String()))
}
