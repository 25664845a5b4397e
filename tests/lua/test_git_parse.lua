-- The parsers behind git.status, git.changed_files and git.log, fed with
-- git's output for cases a test repository cannot easily produce (copies,
-- every kind of conflict, octal-quoted names, a detached or unborn HEAD).
-- They are pure functions (git._parse_*): no git runs here.
local function eq(a, b, what)
  local ja, jb = json.encode(a), json.encode(b)
  assert(ja == jb, what .. ": expected " .. jb .. ", got " .. ja)
end

local function raises(fn, pattern)
  local ok, e = pcall(fn)
  assert(not ok, "expected an error matching " .. pattern)
  assert(tostring(e):find(pattern), "error '" .. tostring(e) .. "' does not match " .. pattern)
end

local ZERO = "0000000000000000000000000000000000000000"
local H1 = "1111111111111111111111111111111111111111"
local H2 = "2222222222222222222222222222222222222222"

return runbook {
  name = "test-git-parse", version = "0.1.0",
  run = function()
    -- unquote: C-style escapes and octal bytes (UTF-8 of "é" is \303\251)
    eq(git._unquote('plain name.txt'), "plain name.txt", "unquoted text is kept")
    eq(git._unquote('"a\\tb\\nc\\"d\\\\e"'), 'a\tb\nc"d\\e', "escapes")
    eq(git._unquote('"caf\\303\\251.txt"'), "café.txt", "octal bytes")
    eq(git._unquote('"'), '"', "a lone quote is a name")

    -- a clean branch with an upstream
    local st = git._parse_status(table.concat({
      "# branch.oid " .. H1,
      "# branch.head main",
      "# branch.upstream origin/main",
      "# branch.ab +2 -3",
    }, "\n") .. "\n")
    eq({ st.clean, st.branch, st.upstream, st.ahead, st.behind, st.commit, st.detached, #st.files },
       { true, "main", "origin/main", 2, 3, H1, false, 0 }, "clean branch")

    -- unborn branch, no upstream: ahead/behind 0, commit nil
    st = git._parse_status("# branch.oid (initial)\n# branch.head main\n? new.txt\n")
    eq({ st.clean, st.commit == nil, st.upstream == nil, st.ahead, st.behind },
       { false, true, true, 0, 0 }, "unborn branch")
    eq(st.files, { { path = "new.txt", staged = false, status = "untracked" } }, "untracked file")

    -- detached HEAD
    st = git._parse_status("# branch.oid " .. H1 .. "\n# branch.head (detached)\n")
    eq({ st.detached, st.branch == nil }, { true, true }, "detached HEAD")

    -- ordinary, renamed, copied, unmerged, untracked entries
    local lines = {
      "# branch.oid " .. H1,
      "# branch.head work",
      "1 .M N... 100644 100644 100644 " .. H1 .. " " .. H1 .. " src/a.lua",
      "1 M. N... 100644 100644 100644 " .. H1 .. " " .. H2 .. " src/b.lua",
      "1 MM N... 100644 100644 100644 " .. H1 .. " " .. H2 .. " both ways.txt",
      "1 A. N... 000000 100644 100644 " .. ZERO .. " " .. H2 .. " added.txt",
      "1 D. N... 100644 000000 000000 " .. H1 .. " " .. ZERO .. " removed.txt",
      "1 .D N... 100644 100644 000000 " .. H1 .. " " .. H1 .. " missing.txt",
      "1 .T N... 100644 100644 120000 " .. H1 .. " " .. H1 .. " link",
      "2 R. N... 100644 100644 100644 " .. H1 .. " " .. H1 .. " R100 new name.txt\told name.txt",
      "2 C. N... 100644 100644 100644 " .. H1 .. " " .. H1 .. ' C75 "tab\\there.txt"\t"caf\\303\\251.txt"',
      "u UU N... 100644 100644 100644 100644 " .. H1 .. " " .. H2 .. " " .. H1 .. " conflict.txt",
      "u DU N... 100644 000000 100644 100644 " .. H1 .. " " .. ZERO .. " " .. H1 .. " deleted by us.txt",
      "u AA N... 000000 100644 100644 100644 " .. ZERO .. " " .. H1 .. " " .. H2 .. " both added.txt",
      '? "line\\nbreak.txt"',
      "? dir/untracked file.txt",
    }
    st = git._parse_status(table.concat(lines, "\n") .. "\n")
    assert(not st.clean and st.branch == "work")
    local got = {}
    for i, f in ipairs(st.files) do
      got[i] = { f.path, f.status, f.staged, f.index or "-", f.worktree or "-", f.old_path or "-" }
    end
    eq(got, {
      { "src/a.lua", "modified", false, "-", "modified", "-" },
      { "src/b.lua", "modified", true, "modified", "-", "-" },
      { "both ways.txt", "modified", true, "modified", "modified", "-" },
      { "added.txt", "added", true, "added", "-", "-" },
      { "removed.txt", "deleted", true, "deleted", "-", "-" },
      { "missing.txt", "deleted", false, "-", "deleted", "-" },
      { "link", "modified", false, "-", "modified", "-" },
      { "new name.txt", "renamed", true, "renamed", "-", "old name.txt" },
      { "tab\there.txt", "copied", true, "copied", "-", "café.txt" },
      { "conflict.txt", "conflicted", false, "-", "-", "-" },
      { "deleted by us.txt", "conflicted", false, "-", "-", "-" },
      { "both added.txt", "conflicted", false, "-", "-", "-" },
      { "line\nbreak.txt", "untracked", false, "-", "-", "-" },
      { "dir/untracked file.txt", "untracked", false, "-", "-", "-" },
    }, "status entries")
    eq(st.files[11].conflict, "DU", "the conflict's XY code")
    raises(function() git._parse_status("1 .M N... short\n") end, "unexpected git status line")

    -- diff --name-status
    local files = git._parse_name_status(table.concat({
      "M\tsrc/a.lua",
      "A\tnew file.txt",
      "D\tgone.txt",
      "R087\told.txt\tnew.txt",
      "C100\tsrc/x.lua\tsrc/y.lua",
      "T\tlink",
      'M\t"caf\\303\\251\\ttab.txt"',
    }, "\n") .. "\n")
    got = {}
    for i, f in ipairs(files) do got[i] = { f.status, f.path, f.old_path or "-" } end
    eq(got, {
      { "modified", "src/a.lua", "-" },
      { "added", "new file.txt", "-" },
      { "deleted", "gone.txt", "-" },
      { "renamed", "new.txt", "old.txt" },
      { "copied", "src/y.lua", "src/x.lua" },
      { "modified", "link", "-" },
      { "modified", "café\ttab.txt", "-" },
    }, "name-status entries")
    eq(#git._parse_name_status(""), 0, "no changes")
    raises(function() git._parse_name_status("what is this\n") end, "unexpected git diff line")

    -- log records: US between fields, RS after each record
    local US, RS = "\31", "\30"
    local text = table.concat({ H1, "Ann Author", "ann@example.com", "2024-05-01T10:00:00+02:00",
                                H2 .. " " .. ZERO, "Merge branch 'x'", "Body line 1\n\nBody line 3\n" }, US)
      .. RS .. "\n"
      .. table.concat({ H2, "Bob", "bob@example.com", "2024-04-30T09:00:00Z", "",
                        "Root commit", "" }, US) .. RS .. "\n"
    local log = git._parse_log(text)
    eq(#log, 2, "two commits")
    eq({ log[1].commit, log[1].author, log[1].email, log[1].date, log[1].subject, log[1].body },
       { H1, "Ann Author", "ann@example.com", "2024-05-01T10:00:00+02:00", "Merge branch 'x'",
         "Body line 1\n\nBody line 3" }, "first commit")
    eq(log[1].parents, { H2, ZERO }, "merge parents")
    eq({ #log[2].parents, log[2].body }, { 0, "" }, "a root commit has no parents")
    eq(#git._parse_log(""), 0, "empty log")
    raises(function() git._parse_log("a" .. US .. "b" .. RS) end, "unexpected git log record")

    -- credentials in URLs are masked; ssh user names are not
    eq(git._mask_urls("fatal: unable to access 'https://bob:s3cret@git.example.com/x.git/'"),
       "fatal: unable to access 'https://[redacted]@git.example.com/x.git/'", "https userinfo")
    eq(git._mask_urls("https://ghp_TOKEN@github.com/o/r"), "https://[redacted]@github.com/o/r", "token as user")
    eq(git._mask_urls("ssh://git@github.com/o/r.git"), "ssh://git@github.com/o/r.git", "ssh user kept")
    eq(git._mask_urls("git@github.com:o/r.git"), "git@github.com:o/r.git", "scp-style kept")
  end,
}
