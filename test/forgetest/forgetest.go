package forgetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Comment is an issue comment as the fake stores it.
type Comment struct {
	Issue   int    `json:"-"` // the pull request it is on
	ID      int64  `json:"id"`
	Body    string `json:"body"`
	HTMLURL string `json:"html_url"`
	User    struct {
		Login string `json:"login"`
	} `json:"user"`
}

// GitHub is the part of the GitHub REST API that package forge uses, in
// memory, for repository shop/ranker: pull request comments served in pages
// of 2 (to exercise pagination), check runs, the pull requests of a commit,
// deployments, and a log of every request.
type GitHub struct {
	mu       sync.Mutex
	Comments []Comment
	nextID   int64
	Log      []string
	Checks   []map[string]any
	// Pulls maps a commit to the pull requests it belongs to (GET
	// /repos/shop/ranker/commits/SHA/pulls).
	Pulls map[string][]map[string]any
	// Files maps a pull request to the files it changes (GET
	// /repos/shop/ranker/pulls/N/files, in pages of 2).
	Files map[int][]string
	// Heads maps a pull request to its head commit (GET
	// /repos/shop/ranker/pulls/N).
	Heads map[int]string
	// Open maps a head (owner:branch) to the open pull requests from it
	// (GET /repos/shop/ranker/pulls?head=owner:branch).
	Open map[string][]map[string]any
	// Deployments and DeploymentStatuses are what was recorded.
	Deployments        []map[string]any
	DeploymentStatuses []map[string]any
	// Limited answers this many requests with a 403 and LimitHeaders first.
	Limited      int
	LimitHeaders map[string]string
	// BadGateway answers this many requests of BadGatewayMethod (any, when
	// empty) with a 502 first, as a proxy in front of GitHub does.
	BadGateway       int
	BadGatewayMethod string
	// ChecksForbidden refuses check runs with a 403, as GitHub does for a
	// token that is not a GitHub App's; Statuses records commit statuses.
	ChecksForbidden bool
	// CommentsForbidden refuses new and edited comments with a 403, as
	// GitHub does for a token without pull-requests: write.
	CommentsForbidden bool
	Statuses          []map[string]any
	// Issues are the repository's issues, in pages of 2; Dispatches the
	// workflow_dispatch events started, each with its "workflow".
	Issues     []map[string]any
	Dispatches []map[string]any
	// Packages are the container package versions of "OWNER/NAME" ({"id",
	// "name": the digest, "metadata": {"container": {"tags"}}}), listed in
	// pages of 2 and deleted by id under /orgs/OWNER or /users/OWNER, as
	// GET /users/OWNER says it is (UserOwners are users, the rest
	// organisations); PackagesForbidden refuses deletions with a 403.
	Packages          map[string][]map[string]any
	UserOwners        []string
	PackagesForbidden bool
}

// AddIssue adds an open issue by login.
func (f *GitHub) AddIssue(login, title, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addIssue(login, title, body)
}

func (f *GitHub) addIssue(login, title, body string) map[string]any {
	n := len(f.Issues) + 1
	is := map[string]any{"number": n, "title": title, "body": body, "state": "open", "user": map[string]any{"login": login},
		"html_url": fmt.Sprintf("https://github.com/shop/ranker/issues/%d", n)}
	f.Issues = append(f.Issues, is)
	return is
}

// Add adds a comment by login on pull request 5.
func (f *GitHub) Add(login, body string) { f.add(5, login, body) }

func (f *GitHub) add(pr int, login, body string) {
	f.nextID++
	c := Comment{Issue: pr, ID: f.nextID, Body: body, HTMLURL: fmt.Sprintf("https://github.com/shop/ranker/pull/%d#issuecomment-%d", pr, f.nextID)}
	c.User.Login = login
	f.Comments = append(f.Comments, c)
}

// On returns the comments on pull request pr.
func (f *GitHub) On(pr int) []Comment {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.on(pr)
}

func (f *GitHub) on(pr int) []Comment {
	var out []Comment
	for _, c := range f.Comments {
		if c.Issue == pr {
			out = append(out, c)
		}
	}
	return out
}

var pullOne = regexp.MustCompile(`^/repos/shop/ranker/pulls/(\d+)$`)

var pullFiles = regexp.MustCompile(`^/repos/shop/ranker/pulls/(\d+)/files$`)

var issueComments = regexp.MustCompile(`^/repos/shop/ranker/issues/(\d+)/comments$`)

var issueOne = regexp.MustCompile(`^/repos/shop/ranker/issues/(\d+)$`)

var packageVersions = regexp.MustCompile(`^/(orgs|users)/([^/]+)/packages/container/([^/]+)/versions(?:/(\d+))?$`)

var dispatches = regexp.MustCompile(`^/repos/shop/ranker/actions/workflows/([^/]+)/dispatches$`)

// ServeHTTP implements http.Handler.
func (f *GitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/api/v3")
	f.Log = append(f.Log, r.Method+" "+path)
	if f.Limited > 0 {
		f.Limited--
		for k, v := range f.LimitHeaders {
			w.Header().Set(k, v)
		}
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message": "API rate limit exceeded"}`)
		return
	}
	if f.BadGateway > 0 && (f.BadGatewayMethod == "" || f.BadGatewayMethod == r.Method) {
		f.BadGateway--
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html>502 Bad Gateway</html>")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == "POST" && path == "/repos/shop/ranker/check-runs" && f.ChecksForbidden:
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message": "Resource not accessible by personal access token"}`)
	case r.Method == "POST" && strings.HasPrefix(path, "/repos/shop/ranker/statuses/"):
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		body["sha"] = strings.TrimPrefix(path, "/repos/shop/ranker/statuses/")
		f.Statuses = append(f.Statuses, body)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id": 1, "url": "https://api.github.com/repos/shop/ranker/statuses/1"}`)
	case f.CommentsForbidden && (r.Method == "POST" && issueComments.MatchString(path) || r.Method == "PATCH" && strings.HasPrefix(path, "/repos/shop/ranker/issues/comments/")):
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message": "Resource not accessible by integration"}`)
	case r.Method == "GET" && issueComments.MatchString(path):
		pr, _ := strconv.Atoi(issueComments.FindStringSubmatch(path)[1])
		on := f.on(pr)
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		lo, hi := (page-1)*2, min(page*2, len(on))
		if page*2 < len(on) {
			w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d&per_page=100>; rel="next"`, "http://"+r.Host+r.URL.Path, page+1))
		}
		lo = min(lo, len(on))
		json.NewEncoder(w).Encode(on[lo:hi])
	case r.Method == "POST" && issueComments.MatchString(path):
		pr, _ := strconv.Atoi(issueComments.FindStringSubmatch(path)[1])
		var c Comment
		json.NewDecoder(r.Body).Decode(&c)
		f.add(pr, "github-actions[bot]", c.Body)
		json.NewEncoder(w).Encode(f.Comments[len(f.Comments)-1])
	case r.Method == "PATCH" && strings.HasPrefix(path, "/repos/shop/ranker/issues/comments/"):
		id, _ := strconv.ParseInt(strings.TrimPrefix(path, "/repos/shop/ranker/issues/comments/"), 10, 64)
		var c Comment
		json.NewDecoder(r.Body).Decode(&c)
		for i := range f.Comments {
			if f.Comments[i].ID == id {
				f.Comments[i].Body = c.Body
				json.NewEncoder(w).Encode(f.Comments[i])
				return
			}
		}
		w.WriteHeader(404)
	case r.Method == "DELETE" && strings.HasPrefix(path, "/repos/shop/ranker/issues/comments/"):
		id, _ := strconv.ParseInt(strings.TrimPrefix(path, "/repos/shop/ranker/issues/comments/"), 10, 64)
		for i := range f.Comments {
			if f.Comments[i].ID == id {
				f.Comments = append(f.Comments[:i], f.Comments[i+1:]...)
				w.WriteHeader(204)
				return
			}
		}
		w.WriteHeader(404)
	case r.Method == "POST" && path == "/repos/shop/ranker/check-runs":
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		f.Checks = append(f.Checks, body)
		fmt.Fprint(w, `{"id": 1, "html_url": "https://github.com/shop/ranker/runs/1"}`)
	case r.Method == "GET" && pullFiles.MatchString(path):
		pr, _ := strconv.Atoi(pullFiles.FindStringSubmatch(path)[1])
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		files := f.Files[pr]
		lo, hi := min(2*(page-1), len(files)), min(2*page, len(files))
		if hi < len(files) {
			w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d&per_page=100>; rel="next"`, "http://"+r.Host+r.URL.Path, page+1))
		}
		out := []map[string]any{}
		for _, name := range files[lo:hi] {
			out = append(out, map[string]any{"filename": name})
		}
		json.NewEncoder(w).Encode(out)
	case r.Method == "GET" && pullOne.MatchString(path):
		pr, _ := strconv.Atoi(pullOne.FindStringSubmatch(path)[1])
		head, ok := f.Heads[pr]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message": "Not Found"}`)
			break
		}
		json.NewEncoder(w).Encode(map[string]any{"number": pr, "head": map[string]any{"sha": head}})
	case r.Method == "GET" && path == "/repos/shop/ranker/pulls":
		prs := f.Open[r.URL.Query().Get("head")]
		if prs == nil {
			prs = []map[string]any{}
		}
		json.NewEncoder(w).Encode(prs)
	case r.Method == "GET" && strings.HasPrefix(path, "/repos/shop/ranker/commits/") && strings.HasSuffix(path, "/pulls"):
		sha := strings.TrimSuffix(strings.TrimPrefix(path, "/repos/shop/ranker/commits/"), "/pulls")
		prs := f.Pulls[sha]
		if prs == nil {
			prs = []map[string]any{}
		}
		json.NewEncoder(w).Encode(prs)
	case r.Method == "GET" && path == "/repos/shop/ranker/issues":
		f.listIssues(w, r)
	case r.Method == "POST" && path == "/repos/shop/ranker/issues":
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		title, _ := req["title"].(string)
		body, _ := req["body"].(string)
		is := f.addIssue("github-actions[bot]", title, body)
		var labels []map[string]any // as GitHub answers them
		for _, l := range anySlice(req["labels"]) {
			labels = append(labels, map[string]any{"name": l})
		}
		is["labels"] = labels
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(is)
	case r.Method == "PATCH" && issueOne.MatchString(path):
		n, _ := strconv.Atoi(issueOne.FindStringSubmatch(path)[1])
		if n < 1 || n > len(f.Issues) {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		for _, k := range []string{"title", "body", "state"} {
			if v, ok := req[k]; ok {
				f.Issues[n-1][k] = v
			}
		}
		json.NewEncoder(w).Encode(f.Issues[n-1])
	case r.Method == "POST" && dispatches.MatchString(path):
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		req["workflow"] = dispatches.FindStringSubmatch(path)[1]
		f.Dispatches = append(f.Dispatches, req)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == "POST" && path == "/repos/shop/ranker/deployments":
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		body["id"], body["creator"] = len(f.Deployments)+1, map[string]any{"login": "github-actions[bot]"}
		if _, ok := body["created_at"]; !ok {
			body["created_at"] = time.Now().UTC().Format(time.RFC3339)
		}
		f.Deployments = append(f.Deployments, body)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id": %d}`, len(f.Deployments))
	case r.Method == "GET" && path == "/repos/shop/ranker/deployments":
		f.listDeployments(w, r)
	case r.Method == "GET" && strings.HasPrefix(path, "/repos/shop/ranker/deployments/") && strings.HasSuffix(path, "/statuses"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/repos/shop/ranker/deployments/"), "/statuses")
		out := []map[string]any{}
		for i := len(f.DeploymentStatuses) - 1; i >= 0; i-- { // newest first
			if f.DeploymentStatuses[i]["deployment"] == id {
				out = append(out, f.DeploymentStatuses[i])
			}
		}
		json.NewEncoder(w).Encode(out)
	case r.Method == "POST" && strings.HasPrefix(path, "/repos/shop/ranker/deployments/") && strings.HasSuffix(path, "/statuses"):
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		body["deployment"] = strings.TrimSuffix(strings.TrimPrefix(path, "/repos/shop/ranker/deployments/"), "/statuses")
		f.DeploymentStatuses = append(f.DeploymentStatuses, body)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id": 1}`)
	case r.Method == "GET" && strings.HasPrefix(path, "/users/") && strings.Count(path, "/") == 2:
		login, kind := strings.TrimPrefix(path, "/users/"), "Organization"
		if slices.Contains(f.UserOwners, login) {
			kind = "User"
		}
		fmt.Fprintf(w, `{"login": %q, "type": %q}`, login, kind)
	case packageVersions.MatchString(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v3")):
		f.packageVersions(w, r, packageVersions.FindStringSubmatch(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v3")))
	default:
		w.WriteHeader(404)
		fmt.Fprintf(w, `{"message": "no route %s %s"}`, r.Method, path)
	}
}

// packageVersions lists (in pages of 2) or deletes the versions of a
// container package; m is packageVersions' match: orgs or users, the
// owner, the escaped name and the version id.
func (f *GitHub) packageVersions(w http.ResponseWriter, r *http.Request, m []string) {
	name, _ := url.PathUnescape(m[3])
	key := m[2] + "/" + name
	versions, ok := f.Packages[key]
	if !ok || (m[1] == "users") != slices.Contains(f.UserOwners, m[2]) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message": "Package not found."}`)
		return
	}
	if r.Method == "DELETE" {
		if f.PackagesForbidden {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"message": "You need admin access to the package to delete it."}`)
			return
		}
		for i, v := range versions {
			if fmt.Sprint(v["id"]) == m[4] {
				f.Packages[key] = slices.Delete(slices.Clone(versions), i, i+1)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message": "Package version not found."}`)
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	lo, hi := min(2*(page-1), len(versions)), min(2*page, len(versions))
	if hi < len(versions) {
		w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d>; rel="next"`, "http://"+r.Host+r.URL.EscapedPath(), page+1))
	}
	json.NewEncoder(w).Encode(versions[lo:hi])
}

// listDeployments answers GET /repos/shop/ranker/deployments: the
// deployments recorded (to the asked environment), newest first, in pages
// of 2.
func (f *GitHub) listDeployments(w http.ResponseWriter, r *http.Request) {
	env := r.URL.Query().Get("environment")
	var match []map[string]any
	for i := len(f.Deployments) - 1; i >= 0; i-- {
		if env == "" || f.Deployments[i]["environment"] == env {
			match = append(match, f.Deployments[i])
		}
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	lo, hi := min(2*(page-1), len(match)), min(2*page, len(match))
	if hi < len(match) {
		w.Header().Set("Link", fmt.Sprintf(`<%s?environment=%s&page=%d>; rel="next"`, "http://"+r.Host+r.URL.Path, env, page+1))
	}
	json.NewEncoder(w).Encode(match[lo:hi])
}

// listIssues answers GET /repos/shop/ranker/issues with the issues of the
// asked state and creator, in pages of 2.
func (f *GitHub) listIssues(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var match []map[string]any
	for _, is := range f.Issues {
		login := is["user"].(map[string]any)["login"]
		if (q.Get("state") == "" || q.Get("state") == "all" || is["state"] == q.Get("state")) && (q.Get("creator") == "" || login == q.Get("creator")) {
			match = append(match, is)
		}
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	lo, hi := min(2*(page-1), len(match)), min(2*page, len(match))
	if hi < len(match) {
		w.Header().Set("Link", fmt.Sprintf(`<%s?state=%s&creator=%s&page=%d>; rel="next"`, "http://"+r.Host+r.URL.Path, q.Get("state"), q.Get("creator"), page+1))
	}
	json.NewEncoder(w).Encode(match[lo:hi])
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}
