package testvault

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// unsealKeyPrefix starts the line of the dev server's log that shows its
// single unseal key.
const unsealKeyPrefix = "Unseal Key: "

// UnsealKey returns the dev server's unseal key, which it prints in its log
// at start-up, shortly after it starts answering: it waits for the line.
func (s *Server) UnsealKey() (string, error) {
	deadline := time.Now().Add(startTimeout)
	for {
		key, err := s.readUnsealKey()
		if err == nil || time.Now().After(deadline) {
			return key, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readUnsealKey looks for the unseal key in the log once.
func (s *Server) readUnsealKey() (string, error) {
	f, err := os.Open(s.logPath)
	if err != nil {
		return "", fmt.Errorf("unseal key: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if key, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), unsealKeyPrefix); ok && key != "" {
			return key, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("unseal key: reading %s: %w", s.logPath, err)
	}
	return "", fmt.Errorf("unseal key: no %q line in %s", unsealKeyPrefix, s.logPath)
}

// Seal seals the server with the root token (PUT sys/seal). A sealed Vault
// answers every API request, verify included, with 503.
func (s *Server) Seal() error {
	if err := s.Do(http.MethodPut, "sys/seal", nil, nil); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	return nil
}

// Unseal unseals the server with the key from its log (PUT sys/unseal) and
// waits until sys/health reports it unsealed and active again.
func (s *Server) Unseal() error {
	key, err := s.UnsealKey()
	if err != nil {
		return err
	}
	var status struct {
		Sealed bool `json:"sealed"`
	}
	if err := s.Do(http.MethodPut, "sys/unseal", map[string]string{"key": key}, &status); err != nil {
		return fmt.Errorf("unseal: %w", err)
	}
	if status.Sealed {
		return errors.New("unseal: Vault is still sealed after the key was given")
	}
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.healthy()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("unseal: not healthy after %s: %w", startTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Sealed reports whether the server says it is sealed (sys/seal-status,
// which needs no token).
func (s *Server) Sealed() (bool, error) {
	var status struct {
		Sealed bool `json:"sealed"`
	}
	if err := s.Do(http.MethodGet, "sys/seal-status", nil, &status); err != nil {
		return false, fmt.Errorf("seal status: %w", err)
	}
	return status.Sealed, nil
}
