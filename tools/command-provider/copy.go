package main

// command:remote:CopyToRemote.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/pkg/sftp"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
)

type copyKind struct{}

func (copyKind) inputKeys() []string {
	return []string{"connection", "remotePath", "source", "triggers"}
}

func (k copyKind) check(news resource.PropertyMap) (resource.PropertyMap, []checkFailure) {
	var fails []checkFailure
	fail := func(p, format string, args ...any) {
		fails = append(fails, checkFailure{p, fmt.Sprintf(format, args...)})
	}
	for _, key := range news.StableKeys() {
		if !slices.Contains(k.inputKeys(), string(key)) && !strings.HasPrefix(string(key), "__") {
			fail(string(key), "%q is not an input of this resource", string(key))
		}
	}
	out := news.Copy()
	if conn, ok := news["connection"]; !ok || conn.IsNull() {
		fail("connection", "connection is required")
	} else {
		for _, p := range checkConnection("connection", conn, true) {
			fail("connection", "%s", p)
		}
		out["connection"] = withConnDefaults(conn)
	}
	if rp, ok := news["remotePath"]; !ok || plain(rp).IsNull() {
		fail("remotePath", "remotePath is required")
	} else if v := plain(rp); !v.IsComputed() && (!v.IsString() || v.StringValue() == "") {
		fail("remotePath", "remotePath must be a non-empty string")
	}
	if src, ok := news["source"]; !ok || plain(src).IsNull() {
		fail("source", "source is required")
	} else if v := plain(src); !v.ContainsUnknowns() {
		if err := checkSource(v); err != nil {
			fail("source", "%v", err)
		}
	}
	if v, ok := news[keyTriggers]; ok && !plain(v).IsNull() && !plain(v).IsComputed() && !plain(v).IsArray() {
		fail(keyTriggers, "triggers must be a list")
	}
	return out, fails
}

// checkSource rejects source kinds this provider cannot copy.
func checkSource(v resource.PropertyValue) error {
	switch {
	case v.IsAsset():
		return checkAsset(v.AssetValue())
	case v.IsArchive():
		return checkArchive(v.ArchiveValue())
	default:
		return fmt.Errorf("source must be an asset or an archive, got %s", v.TypeString())
	}
}

func checkAsset(a *asset.Asset) error {
	if a.IsURI() {
		return fmt.Errorf("remote (URI) assets such as %q are not supported by this provider build; "+
			"use a FileAsset or StringAsset", a.URI)
	}
	return nil
}

func checkArchive(a *archive.Archive) error {
	if a.IsURI() {
		return fmt.Errorf("remote (URI) archives such as %q are not supported by this provider build; "+
			"use a FileArchive of a directory or an AssetArchive", a.URI)
	}
	for name, e := range a.Assets {
		switch e := e.(type) {
		case *asset.Asset:
			if err := checkAsset(e); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		case *archive.Archive:
			if err := checkArchive(e); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		default:
			return fmt.Errorf("%s: unexpected archive member %T", name, e)
		}
	}
	return nil
}

func (k copyKind) create(op opContext, news resource.PropertyMap) (resource.PropertyMap, error) {
	if !op.preview {
		if err := k.copy(op, news); err != nil {
			return nil, err
		}
	}
	return news.Copy(), nil
}

func (k copyKind) update(op opContext, _, news resource.PropertyMap, _ []string) (resource.PropertyMap, error) {
	return k.create(op, news)
}

// delete leaves the remote files alone, like upstream.
func (copyKind) delete(opContext, resource.PropertyMap) error { return nil }

// forceShellTransfer makes copies use the ssh+shell fallback (tests).
var forceShellTransfer = false

func (k copyKind) copy(op opContext, inputs resource.PropertyMap) error {
	remotePath, _, err := getString(inputs, "remotePath")
	if err != nil {
		return err
	}
	src := plain(inputs["source"])
	if err := checkSource(src); err != nil {
		return err
	}
	cfg, err := parseConnection(inputs["connection"])
	if err != nil {
		return err
	}
	red := newRedactor(cfg.sensitive())
	client, err := dialSSH(op.ctx, cfg, func(msg string) {
		logTo(op.ctx, op.log, SevInfo, op.urn, red.apply(msg), true)
	})
	if err != nil {
		return err
	}
	defer client.Close()

	var fs remoteFS
	if !forceShellTransfer {
		if sc, err := sftp.NewClient(client.Client, sftp.UseConcurrentWrites(true)); err == nil {
			fs = &sftpFS{c: sc}
		} else {
			logTo(op.ctx, op.log, SevInfo, op.urn,
				fmt.Sprintf("SFTP unavailable on %s (%v); copying through the remote shell", cfg.host, err), true)
		}
	}
	if fs == nil {
		fs = &shellFS{c: client}
	}
	defer fs.close()

	cp := &copier{fs: fs, progress: func(msg string) { logTo(op.ctx, op.log, SevInfo, op.urn, msg, true) }}
	if err := cp.copySource(src, remotePath); err != nil {
		return fmt.Errorf("copy to %s:%s failed: %w", cfg.host, remotePath, err)
	}
	logTo(op.ctx, op.log, SevInfo, op.urn,
		fmt.Sprintf("copied %d file(s), %d bytes to %s:%s", cp.files, cp.bytes, cfg.host, remotePath), false)
	return nil
}

// ---- copy semantics ----

type copier struct {
	fs       remoteFS
	progress func(string)
	files    int
	bytes    int64
}

// target resolves where a source called name goes, following cp/scp rules:
// an existing directory receives the source inside it; otherwise remotePath
// itself is the destination and its parents are created. A trailing slash
// means "this is a directory" and creates it if needed.
func (c *copier) target(remotePath, name string, srcIsDir bool) (string, error) {
	if strings.HasSuffix(remotePath, "/") && len(remotePath) > 1 {
		if err := c.fs.mkdirAll(strings.TrimRight(remotePath, "/")); err != nil {
			return "", err
		}
	}
	exists, isDir, err := c.fs.stat(remotePath)
	if err != nil {
		return "", err
	}
	switch {
	case exists && isDir:
		if name == "" {
			return "", fmt.Errorf("%s is a directory and the source has no file name "+
				"(StringAsset): give remotePath as the full file path", remotePath)
		}
		return path.Join(remotePath, name), nil
	case exists && srcIsDir:
		return "", fmt.Errorf("%s exists and is not a directory; cannot copy a directory onto it", remotePath)
	default:
		if parent := path.Dir(remotePath); parent != "." && parent != "/" {
			if err := c.fs.mkdirAll(parent); err != nil {
				return "", err
			}
		}
		return remotePath, nil
	}
}

func (c *copier) copySource(src resource.PropertyValue, remotePath string) error {
	if src.IsAsset() {
		a := src.AssetValue()
		switch {
		case a.IsPath():
			st, err := os.Stat(a.Path)
			if err != nil {
				return fmt.Errorf("source file: %w", err)
			}
			if st.IsDir() {
				return fmt.Errorf("source FileAsset %s is a directory; use a FileArchive for directories", a.Path)
			}
			dest, err := c.target(remotePath, filepath.Base(a.Path), false)
			if err != nil {
				return err
			}
			return c.localFile(a.Path, dest)
		case a.IsText():
			dest, err := c.target(remotePath, "", false)
			if err != nil {
				return err
			}
			return c.write(dest, strings.NewReader(a.Text), int64(len(a.Text)), 0o644)
		default:
			return checkAsset(a)
		}
	}
	a := src.ArchiveValue()
	switch {
	case a.IsPath():
		st, err := os.Stat(a.Path)
		if err != nil {
			return fmt.Errorf("source archive: %w", err)
		}
		dest, err := c.target(remotePath, filepath.Base(filepath.Clean(a.Path)), st.IsDir())
		if err != nil {
			return err
		}
		if !st.IsDir() {
			// Archive files (.tar.gz, .zip ...) are copied as they are.
			return c.localFile(a.Path, dest)
		}
		return c.localDir(a.Path, dest, map[string]bool{})
	case a.IsAssets():
		// An AssetArchive has no name of its own: its members are placed
		// inside remotePath, which is created as a directory if needed.
		dest := strings.TrimRight(remotePath, "/")
		if dest == "" {
			dest = "/"
		}
		exists, isDir, err := c.fs.stat(dest)
		if err != nil {
			return err
		}
		if exists && !isDir {
			return fmt.Errorf("%s exists and is not a directory; cannot copy an AssetArchive onto it", dest)
		}
		if err := c.fs.mkdirAll(dest); err != nil {
			return err
		}
		return c.members(a, dest)
	default:
		return checkArchive(a)
	}
}

// members writes the entries of an AssetArchive below dir.
func (c *copier) members(a *archive.Archive, dir string) error {
	names := make([]string, 0, len(a.Assets))
	for n := range a.Assets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		dest := path.Join(dir, filepath.ToSlash(name))
		if err := c.fs.mkdirAll(path.Dir(dest)); err != nil {
			return err
		}
		switch e := a.Assets[name].(type) {
		case *asset.Asset:
			switch {
			case e.IsPath():
				if err := c.localFile(e.Path, dest); err != nil {
					return err
				}
			case e.IsText():
				if err := c.write(dest, strings.NewReader(e.Text), int64(len(e.Text)), 0o644); err != nil {
					return err
				}
			default:
				return fmt.Errorf("%s: %w", name, checkAsset(e))
			}
		case *archive.Archive:
			switch {
			case e.IsPath():
				st, err := os.Stat(e.Path)
				if err != nil {
					return err
				}
				if st.IsDir() {
					err = c.localDir(e.Path, dest, map[string]bool{})
				} else {
					err = c.localFile(e.Path, dest)
				}
				if err != nil {
					return err
				}
			case e.IsAssets():
				if err := c.fs.mkdirAll(dest); err != nil {
					return err
				}
				if err := c.members(e, dest); err != nil {
					return err
				}
			default:
				return fmt.Errorf("%s: %w", name, checkArchive(e))
			}
		}
	}
	return nil
}

func (c *copier) localFile(local, dest string) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", local)
	}
	return c.write(dest, f, st.Size(), st.Mode())
}

// localDir copies the directory tree local to dest (created if missing).
// Symbolic links are followed, like scp -r; visited guards against loops.
func (c *copier) localDir(local, dest string, visited map[string]bool) error {
	real, err := filepath.EvalSymlinks(local)
	if err != nil {
		return err
	}
	if visited[real] {
		return fmt.Errorf("symbolic link loop at %s", local)
	}
	visited[real] = true
	defer delete(visited, real)

	st, err := os.Stat(local)
	if err != nil {
		return err
	}
	if err := c.fs.mkdir(dest); err != nil {
		return err
	}
	entries, err := os.ReadDir(local)
	if err != nil {
		return err
	}
	for _, e := range entries {
		lp := filepath.Join(local, e.Name())
		rp := path.Join(dest, e.Name())
		est, err := os.Stat(lp) // follows links
		if err != nil {
			return err
		}
		switch {
		case est.IsDir():
			if err := c.localDir(lp, rp, visited); err != nil {
				return err
			}
		case est.Mode().IsRegular():
			if err := c.localFile(lp, rp); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is neither a file nor a directory (%s); not copied", lp, est.Mode().Type())
		}
	}
	// Directory permissions last, so a read-only directory can still be filled.
	return c.fs.chmod(dest, st.Mode())
}

func (c *copier) write(dest string, r io.Reader, size int64, mode os.FileMode) error {
	if c.progress != nil {
		c.progress(fmt.Sprintf("copying %s (%d bytes)", dest, size))
	}
	if err := c.fs.writeFile(dest, r, mode); err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	c.files++
	c.bytes += size
	return nil
}

// ---- remote file systems ----

type remoteFS interface {
	stat(p string) (exists, isDir bool, err error)
	mkdirAll(p string) error
	mkdir(p string) error // one directory; fine if it exists
	chmod(p string, mode os.FileMode) error
	// writeFile replaces p atomically (temporary file + rename), so running
	// executables can be replaced and readers never see half a file.
	writeFile(p string, r io.Reader, mode os.FileMode) error
	close() error
}

func permBits(m os.FileMode) os.FileMode {
	return m & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
}

func unixMode(m os.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

func tempName(p string) string {
	return path.Join(path.Dir(p), "."+path.Base(p)+".tmp-"+randHex(6))
}

type sftpFS struct{ c *sftp.Client }

func (s *sftpFS) stat(p string) (bool, bool, error) {
	st, err := s.c.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("stat %s: %w", p, err)
	}
	return true, st.IsDir(), nil
}

func (s *sftpFS) mkdirAll(p string) error {
	if err := s.c.MkdirAll(p); err != nil {
		return fmt.Errorf("creating directory %s: %w", p, err)
	}
	return nil
}

func (s *sftpFS) mkdir(p string) error {
	exists, isDir, err := s.stat(p)
	if err != nil {
		return err
	}
	if exists && !isDir {
		return fmt.Errorf("%s exists and is not a directory", p)
	}
	if !exists {
		if err := s.c.Mkdir(p); err != nil {
			return fmt.Errorf("creating directory %s: %w", p, err)
		}
	}
	return nil
}

func (s *sftpFS) chmod(p string, mode os.FileMode) error {
	return s.c.Chmod(p, permBits(mode))
}

func (s *sftpFS) writeFile(p string, r io.Reader, mode os.FileMode) error {
	tmp := tempName(p)
	f, err := s.c.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	_, err = f.ReadFrom(r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.c.Chmod(tmp, permBits(mode))
	}
	if err == nil {
		if err = s.c.PosixRename(tmp, p); err != nil {
			// Servers without the posix-rename extension: plain SFTP rename
			// refuses to overwrite, so remove the old file first.
			_ = s.c.Remove(p)
			err = s.c.Rename(tmp, p)
		}
	}
	if err != nil {
		_ = s.c.Remove(tmp)
	}
	return err
}

func (s *sftpFS) close() error { return s.c.Close() }

// shellFS works over plain ssh sessions with POSIX shell utilities, for
// servers without an SFTP subsystem.
type shellFS struct{ c *sshClient }

func (s *shellFS) run(cmd string, stdin io.Reader) (string, error) {
	sess, err := s.c.NewSession()
	if err != nil {
		return "", err
	}
	defer sess.Close()
	if stdin != nil {
		sess.Stdin = stdin
	}
	var out, errb strings.Builder
	sess.Stdout, sess.Stderr = &out, &errb
	if err := sess.Run(cmd); err != nil {
		return out.String(), fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func (s *shellFS) stat(p string) (bool, bool, error) {
	q := shellQuote(p)
	out, err := s.run(fmt.Sprintf("if [ -d %s ]; then echo dir; elif [ -e %s ]; then echo file; else echo none; fi",
		q, q), nil)
	if err != nil {
		return false, false, fmt.Errorf("stat %s: %w", p, err)
	}
	switch strings.TrimSpace(out) {
	case "dir":
		return true, true, nil
	case "file":
		return true, false, nil
	default:
		return false, false, nil
	}
}

func (s *shellFS) mkdirAll(p string) error {
	_, err := s.run("mkdir -p -- "+shellQuote(p), nil)
	return err
}

func (s *shellFS) mkdir(p string) error { return s.mkdirAll(p) }

func (s *shellFS) chmod(p string, mode os.FileMode) error {
	_, err := s.run(fmt.Sprintf("chmod %o -- %s", unixMode(mode), shellQuote(p)), nil)
	return err
}

func (s *shellFS) writeFile(p string, r io.Reader, mode os.FileMode) error {
	tmp := shellQuote(tempName(p))
	_, err := s.run(fmt.Sprintf("cat > %s && chmod %o -- %s && mv -f -- %s %s || { rm -f -- %s; exit 1; }",
		tmp, unixMode(mode), tmp, tmp, shellQuote(p), tmp), r)
	return err
}

func (s *shellFS) close() error { return nil }
