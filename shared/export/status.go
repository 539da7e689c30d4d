package export

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// StatusDoc is the "export" object of GET rooms.export.status (SPEC §5).
type StatusDoc struct {
	ID        string `json:"id"`
	RoomID    string `json:"rid"`
	Type      string `json:"type"`
	Format    string `json:"format"`
	Status    string `json:"status"`
	Exported  int64  `json:"exported"`
	Total     int64  `json:"total"`
	Bytes     int64  `json:"bytes"`
	URL       string `json:"url,omitempty"`
	ExpiresAt string `json:"expiresAt,omitempty"`
	Error     string `json:"error,omitempty"`
}

var errExportNotFound = chat.E(chat.CodeNotFound, "Export not found")

// Status serves GET rooms.export.status. Only the owner may read an export;
// to anyone else it does not exist.
func (s *Service) Status(ctx context.Context, c Credentials, exportID string) (StatusDoc, error) {
	u, err := s.Authenticate(ctx, c)
	if err != nil {
		return StatusDoc{}, err
	}
	if exportID == "" {
		return StatusDoc{}, chat.E(chat.CodeInvalidParams, "Invalid parameter %q: required", "exportId")
	}
	job, err := s.Jobs.Job(ctx, exportID)
	if errors.Is(err, chat.ErrNotFound) || (err == nil && job.OwnerID != u.ID) {
		return StatusDoc{}, errExportNotFound
	}
	if err != nil {
		return StatusDoc{}, fmt.Errorf("status %s: %w", exportID, err)
	}
	d := StatusDoc{
		ID: job.ID, RoomID: job.RoomID, Type: job.Type, Format: job.Format, Status: job.Status,
		Exported: job.Exported, Total: job.Total, Bytes: job.Bytes, Error: job.Error,
	}
	if job.Status == chat.JobDone {
		d.URL = s.Links.Link(job.LinkBase, job.ID, job.ExpiresAt)
		d.ExpiresAt = job.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return d, nil
}

// Download serves a signed download link: it checks the signature and
// expiry and answers with a freshly presigned URL of the archive, so the
// link outlives the credentials of whoever signs storage URLs.
func (s *Service) Download(ctx context.Context, exportID, expires, sig string) (string, error) {
	ok, expired := s.Links.Verify(exportID, expires, sig, s.now())
	if expired {
		return "", chat.E(chat.CodeLinkExpired, "This download link has expired")
	}
	if !ok {
		return "", chat.E(chat.CodeInvalidLink, "Invalid download link")
	}
	job, err := s.Jobs.Job(ctx, exportID)
	if errors.Is(err, chat.ErrNotFound) || (err == nil && (job.Status != chat.JobDone || job.Key == "")) {
		return "", errExportNotFound
	}
	if err != nil {
		return "", fmt.Errorf("download %s: %w", exportID, err)
	}
	if s.now().After(job.ExpiresAt) {
		return "", chat.E(chat.CodeLinkExpired, "This export has expired")
	}
	url, err := s.Files.PresignGet(ctx, job.Key, job.FileName, s.Config.PresignTTL)
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", job.Key, err)
	}
	return url, nil
}
