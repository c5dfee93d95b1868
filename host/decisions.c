/* The file of timed decisions (decisions.h): reading it with its damage told once per load,
 * each kind's checks when it is used, rewriting it merged, locked and atomically, and one
 * loaded copy per runtime and file. It knows no kind: callers pass theirs. */
#include "decisions.h"
#include "fs.h"
#include "hash.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A longer file is not ours to keep growing: entries past it are not read or added. */
#define ENTRIES_MAX_ 4096
/* The index of entries by kind word and key: a power of two, at least twice ENTRIES_MAX_,
 * so that a probe always ends at an empty slot soon. */
#define SLOTS_ (2 * ENTRIES_MAX_)
#define LINE_MAX_ 512
/* Damaged lines listed by number in a warning; the rest are counted. */
#define LISTED_MAX_ 6

/* What its kind (name and revision) has made of a line of the file. A line of a name in
 * use but of no revision in use is stale: never found, dropped on rewrite. */
typedef enum {
    UNCHECKED_, /* its kind has not looked at it since it was read (or is not in use) */
    GOOD_,      /* a choice its kind can make */
    REFUSED_    /* refused by its kind: never found, dropped on rewrite */
} state_;

typedef struct {
    char *text; /* the line as read (kept verbatim on rewrite), or as made here */
    char name[LP_DECISION_NAME_MAX];
    long revision;
    char key[LP_DECISION_TOKEN_MAX];
    lp_decision dec;
    int n_times;
    int line; /* in the file as last read; 0 when made here */
    state_ state;
} entry_;

/* A kind this process used on the file, and whether it has checked the lines read since
 * the file was last read. */
typedef struct {
    const lp_decision_kind *kind;
    bool checked;
} used_;

/* What identifies one version of the file: a rename makes a new inode, an edit in place
 * a new size or time. */
typedef struct {
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} identity_;

struct lp_decisions {
    char *path, *about;
    entry_ *v;
    int n, cap;
    int *slots; /* SLOTS_ of them: an entry's index + 1, or 0; loading stays linear */
    used_ kinds[LP_DECISION_KINDS_MAX];
    int n_kinds;
    identity_ id; /* of the file last read or written */
};

/* One load's damage, or one kind's refusals, reported as a single warning. */
typedef struct {
    bool foreign; /* no version line: every line ignored */
    int count;
    char text[1024];
} damage_;

static void damage_add_(damage_ *dm, int line, const char *why) {
    if (dm->count < INT_MAX) dm->count++; /* saturates, as line numbers do */
    if (dm->count > LISTED_MAX_) return;
    size_t len = strlen(dm->text);
    snprintf(dm->text + len, sizeof dm->text - len, "%sline %d (%s)", len ? ", " : "", line, why);
}

static void warn_(lp_note_fn note, void *ctx, const char *msg) {
    if (note)
        note(ctx, true, msg);
    else
        fprintf(stderr, "laperm: warning: %s\n", msg);
}

/* what: "damaged" for a load, "out-of-range <kind word>" for a kind's check. */
static void damage_report_(const damage_ *dm, const char *path, const char *what, lp_note_fn note,
                           void *ctx) {
    char msg[1600], more[64] = "";
    if (dm->foreign) {
        snprintf(msg, sizeof msg,
                 "%s: ignored: line 1 is not \"%s\", so this is not a decision cache of this "
                 "laperm (replaced when next written)",
                 path, LP_DECISIONS_FORMAT);
        warn_(note, ctx, msg);
        return;
    }
    if (!dm->count) return;
    if (dm->count > LISTED_MAX_)
        snprintf(more, sizeof more, " and %d more", dm->count - LISTED_MAX_);
    snprintf(msg, sizeof msg,
             "%s: ignored %d %s line%s of the decision cache: %s%s (dropped when the file is "
             "next written)",
             path, dm->count, what, dm->count == 1 ? "" : "s", dm->text, more);
    warn_(note, ctx, msg);
}

static identity_ identity_from_(const struct stat *st) {
    identity_ id = {.exists = true,
                    .dev = st->st_dev,
                    .ino = st->st_ino,
                    .size = st->st_size,
                    .mtime = st->st_mtim};
    return id;
}

static identity_ identity_of_(const char *path) {
    struct stat st;
    identity_ id = {0};
    return stat(path, &st) == 0 ? identity_from_(&st) : id;
}

static bool same_identity_(const identity_ *a, const identity_ *b) {
    if (a->exists != b->exists) return false;
    return !a->exists ||
           (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
            a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec);
}

/* A key or value: 1 to LP_DECISION_TOKEN_MAX - 1 printable characters, no '#'. */
static bool token_ok_(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= LP_DECISION_TOKEN_MAX) return false;
    for (; *s; ++s)
        if (*s <= ' ' || *s > '~' || *s == '#') return false;
    return true;
}

/* A kind's name: 1 to LP_DECISION_NAME_MAX - 1 letters, digits, '_' or '-'. */
static bool name_ok_(const char *s, size_t n) {
    if (n == 0 || n >= LP_DECISION_NAME_MAX) return false;
    for (size_t i = 0; i < n; ++i)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-')) return false;
    return true;
}

static bool time_ok_(double ms) {
    return isfinite(ms) && ms >= 0 && ms < 1e9;
}

/* "<name>.<revision>" into e; false if word is not one. */
static bool kind_word_(const char *word, entry_ *e) {
    const char *dot = strrchr(word, '.');
    if (!dot || !name_ok_(word, (size_t)(dot - word))) return false;
    size_t digits = strspn(dot + 1, "0123456789");
    if (digits == 0 || digits > 9 || dot[1 + digits] != '\0') return false;
    memcpy(e->name, word, (size_t)(dot - word));
    e->name[dot - word] = '\0';
    e->revision = strtol(dot + 1, NULL, 10);
    return true;
}

/* Parses one line, whatever its kind, into e (its text not set): NULL when it is well
 * formed, else why not. */
static const char *parse_line_(char *line, entry_ *e) {
    char *tok[3 + LP_DECISION_TIMES_MAX + 1];
    int nt = 0;
    char *save = NULL;
    for (char *p = strtok_r(line, " \t", &save); p && nt < (int)(sizeof tok / sizeof *tok);
         p = strtok_r(NULL, " \t", &save))
        tok[nt++] = p;
    if (nt < 3) return "too few fields";
    if (nt > 3 + LP_DECISION_TIMES_MAX) return "too many fields";
    if (!kind_word_(tok[0], e)) return "not <kind>.<revision>";
    if (!token_ok_(tok[1]) || !token_ok_(tok[2])) return "bad key or value";
    memset(&e->dec, 0, sizeof e->dec);
    e->n_times = nt - 3;
    for (int i = 0; i < e->n_times; ++i) {
        char *end;
        errno = 0;
        e->dec.ms[i] = strtod(tok[3 + i], &end);
        if (*end || errno || !time_ok_(e->dec.ms[i])) return "timing out of range";
    }
    snprintf(e->key, sizeof e->key, "%s", tok[1]);
    snprintf(e->dec.value, sizeof e->dec.value, "%s", tok[2]);
    return NULL;
}

static bool same_kind_(const entry_ *e, const char *name, long revision) {
    return e->revision == revision && strcmp(e->name, name) == 0;
}

/* The index slot of (name, revision, key): the one holding its entry, else the empty one
 * where it would go (open addressing; entries are never removed one by one). */
static int *slot_(const lp_decisions *d, const char *name, long revision, const char *key) {
    uint64_t h = lp_hash_str(LP_HASH_SEED, name);
    h = lp_hash_bytes(h, &revision, sizeof revision);
    h = lp_hash_final(lp_hash_str(h, key));
    for (size_t i = (size_t)h & (SLOTS_ - 1);; i = (i + 1) & (SLOTS_ - 1)) {
        int *s = &d->slots[i];
        if (!*s) return s;
        const entry_ *e = &d->v[*s - 1];
        if (same_kind_(e, name, revision) && strcmp(e->key, key) == 0) return s;
    }
}

static entry_ *find_entry_(const lp_decisions *d, const char *name, long revision,
                           const char *key) {
    int *s = slot_(d, name, revision, key);
    return *s ? &d->v[*s - 1] : NULL;
}

/* Adds e, which then owns its text (freed here on failure), or replaces the entry with the
 * same kind word and key. */
static lp_status put_entry_(lp_decisions *d, const entry_ *e) {
    int *slot = slot_(d, e->name, e->revision, e->key);
    if (*slot) {
        entry_ *old = &d->v[*slot - 1];
        free(old->text);
        *old = *e;
        return LP_OK;
    }
    if (d->n >= ENTRIES_MAX_) {
        free(e->text);
        return lp_fail(LP_ERR_UNSUPPORTED, "%s: already %d decisions; delete the file", d->path,
                       ENTRIES_MAX_);
    }
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 32;
        entry_ *grown = realloc(d->v, (size_t)cap * sizeof *grown);
        if (!grown) {
            free(e->text);
            return lp_fail(LP_ERR_NO_MEMORY, "decision cache: out of host memory");
        }
        d->v = grown;
        d->cap = cap;
    }
    d->v[d->n++] = *e;
    *slot = d->n;
    return LP_OK;
}

static void clear_entries_(lp_decisions *d) {
    for (int i = 0; i < d->n; ++i)
        free(d->v[i].text);
    d->n = 0;
    if (d->slots) memset(d->slots, 0, SLOTS_ * sizeof *d->slots);
}

/* The next line of f into buf (cap bytes), without its '\n': its length, or -1 at the end
 * of the file. The rest of a longer line is skipped (*cut set), so that memory stays
 * bounded whatever the file holds; NUL bytes are kept for the caller to find. */
static long read_line_(FILE *f, char *buf, size_t cap, bool *cut) {
    size_t len = 0;
    int c;
    *cut = false;
    while ((c = getc(f)) != EOF && c != '\n') {
        if (len + 1 < cap)
            buf[len++] = (char)c;
        else
            *cut = true;
    }
    buf[len] = '\0';
    return c == EOF && len == 0 && !*cut ? -1 : (long)len;
}

/* Replaces d's entries with the file's well-formed lines, its damage into dm; every kind
 * in use checks the new lines when it is next used. */
static lp_status read_(lp_decisions *d, damage_ *dm) {
    clear_entries_(d);
    for (int k = 0; k < d->n_kinds; ++k)
        d->kinds[k].checked = false;
    FILE *f = fopen(d->path, "rb");
    struct stat st;
    /* The identity of what is read, even if the file is replaced meanwhile. */
    d->id = f && fstat(fileno(f), &st) == 0 ? identity_from_(&st) : identity_of_(d->path);
    if (!f) return LP_OK; /* no file yet (or unreadable: then it is rewritten) */
    char line[LINE_MAX_ + 2];
    long got;
    bool cut;
    int lineno = 0;
    lp_status s = LP_OK;
    while (s == LP_OK && (got = read_line_(f, line, sizeof line, &cut)) >= 0) {
        size_t len = (size_t)got;
        if (lineno < INT_MAX) ++lineno;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (lineno == 1) {
            /* Without its version line the file is not ours, or not of this format. */
            dm->foreign = len != strlen(LP_DECISIONS_FORMAT) || strcmp(line, LP_DECISIONS_FORMAT);
            if (dm->foreign) break;
            continue;
        }
        if (memchr(line, '\0', len)) {
            damage_add_(dm, lineno, "a NUL byte");
            continue;
        }
        if (cut || len >= LINE_MAX_) {
            damage_add_(dm, lineno, "too long");
            continue;
        }
        size_t lead = strspn(line, " \t");
        if (line[lead] == '\0' || line[lead] == '#') continue;
        if (d->n >= ENTRIES_MAX_) {
            damage_add_(dm, lineno, "past the entry limit");
            continue;
        }
        entry_ e = {.text = strdup(line), .line = lineno, .state = UNCHECKED_};
        if (!e.text) {
            s = lp_fail(LP_ERR_NO_MEMORY, "decision cache: out of host memory");
            break;
        }
        const char *why = parse_line_(line, &e);
        if (why) {
            free(e.text);
            damage_add_(dm, lineno, why);
        } else {
            s = put_entry_(d, &e);
        }
    }
    if (lineno == 0) dm->foreign = true; /* an empty file has no version line either */
    fclose(f);
    return s;
}

lp_status lp_decisions_load(const char *path, const char *about, lp_note_fn note, void *ctx,
                            lp_decisions **out) {
    *out = NULL;
    lp_decisions *d = calloc(1, sizeof *d);
    if (!d) return lp_fail(LP_ERR_NO_MEMORY, "decision cache: out of host memory");
    d->path = strdup(path);
    d->about = about ? strdup(about) : NULL;
    d->slots = calloc(SLOTS_, sizeof *d->slots);
    if (!d->path || (about && !d->about) || !d->slots) {
        lp_decisions_free(d);
        return lp_fail(LP_ERR_NO_MEMORY, "decision cache: out of host memory");
    }
    damage_ dm = {0};
    lp_status s = read_(d, &dm);
    if (s != LP_OK) {
        lp_decisions_free(d);
        return s;
    }
    damage_report_(&dm, d->path, "damaged", note, ctx);
    *out = d;
    return LP_OK;
}

lp_status lp_decisions_refresh(lp_decisions *d, lp_note_fn note, void *ctx) {
    identity_ now = identity_of_(d->path);
    if (same_identity_(&now, &d->id)) return LP_OK;
    damage_ dm = {0};
    LP_TRY(read_(d, &dm));
    damage_report_(&dm, d->path, "damaged", note, ctx);
    return LP_OK;
}

void lp_decisions_free(lp_decisions *d) {
    if (!d) return;
    clear_entries_(d);
    free(d->path);
    free(d->about);
    free(d->v);
    free(d->slots);
    free(d);
}

/* The kind's lines read since it last looked, those it refuses told as one warning. */
static void check_(lp_decisions *d, used_ *u, lp_note_fn note, void *ctx) {
    const lp_decision_kind *k = u->kind;
    damage_ dm = {0};
    for (int i = 0; i < d->n; ++i) {
        entry_ *e = &d->v[i];
        if (e->state != UNCHECKED_ || !same_kind_(e, k->name, k->revision)) continue;
        if (e->n_times != k->n_times) {
            e->state = REFUSED_;
            damage_add_(&dm, e->line, "wrong number of timings");
        } else if (!k->valid(e->key, e->dec.value)) {
            e->state = REFUSED_;
            damage_add_(&dm, e->line, "not a choice of its kind");
        } else {
            e->state = GOOD_;
        }
    }
    u->checked = true;
    char what[LP_DECISION_NAME_MAX + 40];
    snprintf(what, sizeof what, "out-of-range \"%s.%d\"", k->name, k->revision);
    damage_report_(&dm, d->path, what, note, ctx);
}

/* The kind among those used on d, added if new and checked if it has not looked at the
 * lines read since; NULL when there is no room for another. */
static used_ *use_(lp_decisions *d, const lp_decision_kind *kind, lp_note_fn note, void *ctx) {
    used_ *u = NULL;
    for (int k = 0; k < d->n_kinds && !u; ++k)
        if (d->kinds[k].kind == kind) u = &d->kinds[k];
    if (!u) {
        if (d->n_kinds >= LP_DECISION_KINDS_MAX) return NULL;
        u = &d->kinds[d->n_kinds++];
        *u = (used_){.kind = kind};
    }
    if (!u->checked) check_(d, u, note, ctx);
    return u;
}

bool lp_decisions_find(lp_decisions *d, const lp_decision_kind *kind, const char *key,
                       lp_decision *out, lp_note_fn note, void *ctx) {
    if (!d || !use_(d, kind, note, ctx)) return false;
    const entry_ *e = find_entry_(d, kind->name, kind->revision, key);
    if (!e || e->state != GOOD_) return false;
    *out = e->dec;
    return true;
}

/* mkdir -p of the folder holding file. */
static lp_status make_dirs_(const char *file) {
    char dir[4096];
    lp_fs_parent_dir(file, dir, sizeof dir);
    return lp_fs_mkdir_p(dir);
}

/* An exclusive lock on <file>.lock, so that two writers do not each merge the file without
 * the other's entry; -1 without one. Waits at most about two seconds: a run is never held
 * up for its cache, a rewrite without the lock only risks a decision timed again. The lock
 * ends when the descriptor is closed (or the process ends). */
static int lock_(const char *file) {
    char path[4200];
    if ((size_t)snprintf(path, sizeof path, "%s.lock", file) >= sizeof path) return -1;
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) return -1;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    for (int tries = 0; tries < 200; ++tries) {
        if (fcntl(fd, F_SETLK, &fl) == 0) return fd;
        if (errno != EACCES && errno != EAGAIN && errno != EINTR) break;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    close(fd);
    return -1;
}

/* Whether e is of a kind in use at another revision (timed before the kind changed, or by
 * a newer laperm): never found, and dropped on rewrite without a warning, as is normal
 * after an upgrade. */
static bool stale_(const lp_decisions *d, const entry_ *e) {
    bool name_used = false;
    for (int k = 0; k < d->n_kinds; ++k) {
        const lp_decision_kind *kind = d->kinds[k].kind;
        if (strcmp(kind->name, e->name) != 0) continue;
        if (kind->revision == e->revision) return false;
        name_used = true;
    }
    return name_used;
}

/* Whether d holds a line the kind checked and kept. */
static bool holds_(const lp_decisions *d, const lp_decision_kind *kind) {
    for (int i = 0; i < d->n; ++i)
        if (d->v[i].state == GOOD_ && same_kind_(&d->v[i], kind->name, kind->revision)) return true;
    return false;
}

/* The whole table to <file>.<pid>.tmp in the same folder, then renamed over the file:
 * the version line, the device, the legend of each kind in use that has lines, then every
 * line but those refused or stale. */
static lp_status write_(lp_decisions *d) {
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.%ld.tmp", d->path, (long)getpid()) >= sizeof tmp)
        return lp_fail(LP_ERR_IO, "%s: path too long", d->path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return lp_fail(LP_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    bool ok = fprintf(f, "%s\n", LP_DECISIONS_FORMAT) > 0;
    if (ok && d->about) ok = fprintf(f, "# %s\n", d->about) > 0;
    for (int k = 0; ok && k < d->n_kinds; ++k) {
        const lp_decision_kind *kind = d->kinds[k].kind;
        if (holds_(d, kind))
            ok = fprintf(f, "# %s.%d %s\n", kind->name, kind->revision, kind->legend) > 0;
    }
    for (int i = 0; ok && i < d->n; ++i)
        if (d->v[i].state != REFUSED_ && !stale_(d, &d->v[i]))
            ok = fprintf(f, "%s\n", d->v[i].text) > 0;
    /* On disk before the rename, so a crash leaves the old file or the whole new one. */
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int err = errno;
    ok = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, d->path) != 0) ok = false, err = errno;
    if (!ok) {
        remove(tmp);
        return lp_fail(LP_ERR_IO, "%s: cannot write: %s", d->path, strerror(err));
    }
    d->id = identity_of_(d->path);
    return LP_OK;
}

/* The decision as an entry of d, with its line's text (malloc'd). */
static lp_status entry_make_(const lp_decision_kind *kind, const char *key, const lp_decision *dec,
                             entry_ *e) {
    *e =
        (entry_){.revision = kind->revision, .dec = *dec, .n_times = kind->n_times, .state = GOOD_};
    snprintf(e->name, sizeof e->name, "%s", kind->name);
    snprintf(e->key, sizeof e->key, "%s", key);
    char text[LINE_MAX_ + 64];
    int len =
        snprintf(text, sizeof text, "%s.%d %s %s", kind->name, kind->revision, key, dec->value);
    for (int t = 0; t < kind->n_times && len > 0 && (size_t)len < sizeof text; ++t)
        len += snprintf(text + len, sizeof text - (size_t)len, " %.6g", dec->ms[t]);
    if (len <= 0 || len >= LINE_MAX_)
        return lp_fail(LP_ERR_INVALID_ARG, "decision cache: %s '%s': the line is too long",
                       kind->name, key);
    e->text = strdup(text);
    return e->text ? LP_OK : lp_fail(LP_ERR_NO_MEMORY, "decision cache: out of host memory");
}

lp_status lp_decisions_put(lp_decisions *d, const lp_decision_kind *kind, const char *key,
                           const lp_decision *dec, lp_note_fn note, void *ctx) {
    if (!name_ok_(kind->name, strlen(kind->name)) || kind->revision < 0 || kind->n_times < 0 ||
        kind->n_times > LP_DECISION_TIMES_MAX)
        return lp_fail(LP_ERR_INVALID_ARG, "decision cache: '%s' is not a kind", kind->name);
    if (!token_ok_(key) || !token_ok_(dec->value) || !kind->valid(key, dec->value))
        return lp_fail(LP_ERR_INVALID_ARG, "decision cache: '%s' is not a %s choice for key '%s'",
                       dec->value, kind->name, key);
    for (int t = 0; t < kind->n_times; ++t)
        if (!time_ok_(dec->ms[t]))
            return lp_fail(LP_ERR_INVALID_ARG,
                           "decision cache: %s '%s': timing %g ms is not in [0, 1e9)", kind->name,
                           key, dec->ms[t]);
    entry_ e;
    LP_TRY(entry_make_(kind, key, dec, &e));
    lp_status s = make_dirs_(d->path);
    int lock = s == LP_OK ? lock_(d->path) : -1;
    /* Merged with the file as it is now: entries other runs added since it was read stay. */
    if (s == LP_OK) s = lp_decisions_refresh(d, note, ctx);
    /* Every kind in use looks at what was read, so that the lines it refuses are dropped. */
    if (!use_(d, kind, note, ctx) && s == LP_OK)
        s = lp_fail(LP_ERR_UNSUPPORTED, "%s: more than %d kinds of decision", d->path,
                    LP_DECISION_KINDS_MAX);
    for (int k = 0; k < d->n_kinds; ++k)
        use_(d, d->kinds[k].kind, note, ctx);
    lp_status kept = put_entry_(d, &e);
    if (s == LP_OK) s = kept;
    if (s == LP_OK) s = write_(d);
    if (lock >= 0) close(lock);
    return s;
}

/* ---- per runtime --------------------------------------------------------------------- */

bool lp_decisions_path(const lp_runtime *rt, char *path, size_t cap) {
    char dir[4096];
    if (!lp_runtime_cache_dir(dir, sizeof dir)) return false;
    const lp_device_info *d = lp_runtime_device(rt);
    uint64_t h = LP_HASH_SEED;
    const char *parts[] = {LP_DECISIONS_FORMAT, d->platform_name, d->platform_version,
                           d->device_name, d->driver_version};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; ++i)
        h = lp_hash_str(h, parts[i]);
    int len =
        snprintf(path, cap, "%s/decisions-%016llx.txt", dir, (unsigned long long)lp_hash_final(h));
    return len > 0 && (size_t)len < cap;
}

#define ATTACH_KEY_ "laperm.decisions"

/* The files this runtime has loaded: usually one, more if $LAPERM_CACHE_DIR changed. */
typedef struct {
    lp_decisions **files;
    int n;
} registry_;

static void registry_free_(void *p) {
    registry_ *r = p;
    for (int i = 0; i < r->n; ++i)
        lp_decisions_free(r->files[i]);
    free(r->files);
    free(r);
}

/* "device: ... | platform: ... | driver: ...", on one line whatever the strings hold. */
static void about_(const lp_device_info *d, char *buf, size_t cap) {
    snprintf(buf, cap, "device: %s | platform: %s, %s | driver: %s", d->device_name,
             d->platform_name, d->platform_version, d->driver_version);
    for (char *p = buf; *p; ++p)
        if ((unsigned char)*p < ' ') *p = ' ';
}

/* This runtime's copy of its device's file, loaded or refreshed; NULL when the disk cache
 * is off. */
static lp_status file_of_(lp_runtime *rt, lp_note_fn note, void *ctx, lp_decisions **out) {
    *out = NULL;
    char path[4608];
    if (!lp_decisions_path(rt, path, sizeof path)) return LP_OK;
    registry_ *r = lp_runtime_attached(rt, ATTACH_KEY_);
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return lp_fail(LP_ERR_NO_MEMORY, "decision cache: out of host memory");
        lp_status s = lp_runtime_attach(rt, ATTACH_KEY_, r, registry_free_);
        if (s != LP_OK) {
            free(r);
            return s;
        }
    }
    for (int i = 0; i < r->n; ++i)
        if (strcmp(r->files[i]->path, path) == 0) {
            *out = r->files[i];
            return lp_decisions_refresh(*out, note, ctx);
        }
    lp_decisions **grown = realloc(r->files, (size_t)(r->n + 1) * sizeof *grown);
    if (!grown) return lp_fail(LP_ERR_NO_MEMORY, "decision cache: out of host memory");
    r->files = grown;
    char about[700];
    about_(lp_runtime_device(rt), about, sizeof about);
    LP_TRY(lp_decisions_load(path, about, note, ctx, &r->files[r->n]));
    *out = r->files[r->n++];
    return LP_OK;
}

bool lp_decision_get(lp_runtime *rt, const lp_decision_kind *kind, const char *key,
                     lp_decision *out, lp_note_fn note, void *ctx) {
    lp_decisions *d;
    /* Out of memory: no decision, the caller times (and says so if that fails too). */
    if (file_of_(rt, note, ctx, &d) != LP_OK) return false;
    return d && lp_decisions_find(d, kind, key, out, note, ctx);
}

lp_status lp_decision_set(lp_runtime *rt, const lp_decision_kind *kind, const char *key,
                          const lp_decision *dec) {
    lp_decisions *d;
    LP_TRY(file_of_(rt, NULL, NULL, &d));
    return d ? lp_decisions_put(d, kind, key, dec, NULL, NULL) : LP_OK;
}
