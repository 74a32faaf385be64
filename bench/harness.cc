// harness.cc - hive-bench's main: options, Google Benchmark runs, one table,
// the ratios between paired benchmarks, and the JSON records.
//
// Each registered benchmark (harness.h) becomes one Google Benchmark with
// real time, its repetitions and minimum time. Its body runs fn once per
// call with ops = the iteration count Google Benchmark chose, as a single
// KeepRunningBatch, so setup inside fn is paid once per call and not once
// per operation. ok/workers/ops and the benchmark's extra results travel to
// the reporter as state.counters; the reporter (Collector) keeps each
// repetition and prints nothing but progress, and main() computes median,
// min and max ns/op itself at the end. Google Benchmark's own aggregates
// (mean, stddev) are ignored: a median over five runs is what the targets
// in DESIGN.md are checked against, and min-max shows the noise honestly.
//
// Output contract (other tools read it): the table on stdout, progress on
// stderr, --json=FILE a JSON array with one object per benchmark (see
// write_json). Exit status 0, 1 if a workload failed to verify or the JSON
// could not be written, 2 for a usage error (unknown option or name).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bench/harness.h"

namespace {

constexpr int kDefaultRepetitions = 5;
constexpr double kDefaultMinTime = 0.2; // seconds per repetition

struct Rep {
    double ns_per_op;
    long ops;
    bool ok;
    int workers;
    std::map<std::string, double> extras;
};

struct Record {
    std::string name, runtime, params;
    hive_bench_fn fn;
    void *arg;
    long ops;         // fixed ops per call, 0 = scaled to min_time
    int repetitions;  // 0 = default
    double min_time;  // 0 = default
    bool selected = false;
    bool started = false;
    bool ok = true;   // every call verified, probes included
    std::string fail; // first failure message
    std::vector<Rep> reps;
};

// A function-local static: registrations run from constructors in other
// translation units, before this file's own static initialisers may have.
std::vector<Record> &registry()
{
    static std::vector<Record> *r = new std::vector<Record>;
    return *r;
}

// Per-call state behind hive_bench_t::impl_.
struct Call {
    benchmark::State *state = nullptr;
    Record *rec = nullptr;
    bool paused = false;
    int workers = 1;
    std::vector<std::pair<std::string, double>> extras;
};

int g_workers = 0; // --workers
int g_selected = 0, g_started = 0;

Call *call_of(hive_bench_t *b) { return static_cast<Call *>(b->impl_); }

std::string vformat(const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    return buf;
}

// The Google Benchmark body shared by every registered benchmark.
void run_one(benchmark::State &state, Record *r)
{
    if (!r->started) {
        r->started = true;
        fprintf(stderr, "[%d/%d] %s ...", ++g_started, g_selected, r->name.c_str());
        fflush(stderr);
    }
    Call call;
    call.state = &state;
    call.rec = r;
    hive_bench_t b{r->name.c_str(), r->arg, g_workers, &call};
    long ops = 0;
    int rc = 0;
    // One batch of all the iterations Google Benchmark asked for.
    while (state.KeepRunningBatch(state.max_iterations)) {
        ops = static_cast<long>(state.max_iterations);
        rc = r->fn(ops, &b);
        if (call.paused) { // the clock must run when the batch ends
            state.ResumeTiming();
            call.paused = false;
        }
    }
    if (rc != 0) {
        r->ok = false;
        if (r->fail.empty())
            r->fail = "returned " + std::to_string(rc);
    }
    state.counters["ok"] = rc == 0 ? 1 : 0;
    state.counters["workers"] = call.workers;
    state.counters["ops"] = static_cast<double>(ops);
    for (auto &[k, v] : call.extras)
        state.counters[k] = v;
}

const Record *find(const std::string &name)
{
    for (auto &r : registry())
        if (r.name == name)
            return &r;
    return nullptr;
}

double median(std::vector<double> v)
{
    if (v.empty())
        return NAN;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Collects every repetition; prints only the end of each progress line.
class Collector : public benchmark::BenchmarkReporter {
  public:
    bool ReportContext(const Context &ctx) override
    {
        const auto &cpu = ctx.cpu_info;
        fprintf(stderr, "hive-bench: %d benchmarks; %d cpus @ %.0f MHz%s\n", g_selected,
                cpu.num_cpus, cpu.cycles_per_second / 1e6,
                cpu.scaling == benchmark::CPUInfo::ENABLED
                    ? "; CPU frequency scaling is on, expect noise"
                    : "");
#if !defined(__OPTIMIZE__)
        fprintf(stderr, "hive-bench: WARNING: built without optimisation; numbers are not "
                        "comparable with a Release build\n");
#endif
        return true;
    }

    void ReportRuns(const std::vector<Run> &runs) override
    {
        for (const Run &run : runs) {
            if (run.run_type != Run::RT_Iteration)
                continue;
            Record *r = lookup(run.run_name.function_name);
            if (!r)
                continue;
            Rep rep{};
            rep.ops = static_cast<long>(run.iterations);
            rep.ns_per_op = run.real_accumulated_time * 1e9 / static_cast<double>(run.iterations);
            rep.ok = !run.error_occurred;
            rep.workers = 1;
            for (const auto &[k, c] : run.counters) {
                if (k == "ok")
                    rep.ok = rep.ok && c.value != 0;
                else if (k == "workers")
                    rep.workers = static_cast<int>(c.value);
                else if (k != "ops")
                    rep.extras[k] = c.value;
            }
            if (run.error_occurred && r->fail.empty())
                r->fail = run.error_message;
            r->reps.push_back(std::move(rep));
            if (static_cast<int64_t>(r->reps.size()) == run.repetitions) {
                std::vector<double> ns;
                for (auto &x : r->reps)
                    ns.push_back(x.ns_per_op);
                fprintf(stderr, " %.2f ns/op%s\n", median(ns), r->ok ? "" : " FAILED");
            }
        }
    }

  private:
    static Record *lookup(const std::string &name)
    {
        for (auto &r : registry())
            if (r.name == name)
                return &r;
        return nullptr;
    }
};

struct Result {
    const Record *rec;
    double ns, min_ns, max_ns;
    long ops;
    int workers;
    bool ok;
    std::map<std::string, double> extras;
};

// Derived ratios: printed (and added to the numerator's JSON record) when both
// sides ran. target_max 0 = no target. One line per pair.
// own_floor: the numerator's own extras holding the denominator measured right
// before each of its repetitions ("<own_floor>", median over them) and each
// repetition's ratio to it ("x_<own_floor minus _ns>", median over them). When
// present, a second line gives that ratio, and the target applies to it: the
// two benchmarks' own runs may be minutes apart, and a shared host moves
// vCPUs meanwhile.
struct Ratio {
    const char *num, *den;
    double target_max;
    const char *what;
    const char *own_floor;
};
const Ratio kRatios[] = {
    {"switch", "switch_bare", 2.0, "fiber switch vs a bare register swap", nullptr},
    {"switch_ucontext", "switch", 0, "glibc swapcontext vs hive's switch", nullptr},
    {"pingpong_xworker", "cacheline_rtt", 3.0, "cross-worker message vs a cache-line round trip",
     "floor_rtt_ns"},
    {"wake", "futex_wake", 0, "waking a parked worker vs a bare futex wake", nullptr},
};

// The numerator's own floor (see Ratio), or 0.
double own_floor_of(const Result &r, const Ratio &p)
{
    if (!p.own_floor)
        return 0;
    auto it = r.extras.find(p.own_floor);
    return it != r.extras.end() && it->second > 0 ? it->second : 0;
}

// The median over repetitions of each one's ratio to its own floor, or 0.
double own_ratio_of(const Result &r, const Ratio &p)
{
    if (!p.own_floor)
        return 0;
    std::string key = std::string("x_") + p.own_floor;
    if (key.size() > 5 && key.compare(key.size() - 3, 3, "_ns") == 0)
        key.resize(key.size() - 3);
    auto it = r.extras.find(key);
    return it != r.extras.end() && it->second > 0 ? it->second : 0;
}

std::string target_note(double x, double target_max)
{
    char buf[64] = "";
    if (target_max > 0)
        snprintf(buf, sizeof buf, "  (target <= %gx: %s)", target_max,
                 x <= target_max ? "met" : "MISSED");
    return buf;
}

const Result *result_of(const std::vector<Result> &rs, const char *name)
{
    for (auto &r : rs)
        if (r.rec->name == name && !r.rec->reps.empty())
            return &r;
    return nullptr;
}

std::string si(double v)
{
    char buf[32];
    if (!std::isfinite(v))
        return "-";
    const char *unit[] = {"", "k", "M", "G", "T"};
    int i = 0;
    while (v >= 1000 && i < 4) {
        v /= 1000;
        i++;
    }
    snprintf(buf, sizeof buf, "%.3g%s", v, unit[i]);
    return buf;
}

std::string ns_str(double ns)
{
    char buf[32];
    if (!std::isfinite(ns))
        return "-";
    snprintf(buf, sizeof buf, ns < 1 ? "%.3g" : ns < 100 ? "%.2f" : ns < 10000 ? "%.1f" : "%.0f", ns);
    return buf;
}

void print_table(const std::vector<Result> &rs)
{
    struct Row {
        std::string c[8];
    };
    std::vector<Row> rows;
    rows.push_back({{"name", "runtime", "ns/op", "ops/s", "min..max ns/op", "workers", "ok",
                     "params"}});
    for (auto &r : rs)
        rows.push_back({{r.rec->name, r.rec->runtime, ns_str(r.ns), si(1e9 / r.ns),
                         ns_str(r.min_ns) + ".." + ns_str(r.max_ns), std::to_string(r.workers),
                         r.ok ? "ok" : "FAIL", r.rec->params}});
    size_t w[8] = {0};
    for (auto &row : rows)
        for (int i = 0; i < 8; i++)
            w[i] = std::max(w[i], row.c[i].size());
    // Names and text left-aligned, numbers right-aligned.
    const bool right[8] = {false, false, true, true, true, true, false, false};
    for (size_t n = 0; n < rows.size(); n++) {
        std::string line;
        for (int i = 0; i < 8; i++) {
            const std::string &s = rows[n].c[i];
            std::string pad(w[i] - s.size(), ' ');
            line += right[i] ? pad + s : (i == 7 ? s : s + pad);
            if (i < 7)
                line += "  ";
        }
        printf("%s\n", line.c_str());
        if (n == 0)
            printf("%s\n", std::string(line.size(), '-').c_str());
    }
}

void print_ratios(const std::vector<Result> &rs)
{
    bool header = false;
    for (auto &p : kRatios) {
        const Result *a = result_of(rs, p.num), *b = result_of(rs, p.den);
        double own = a ? own_floor_of(*a, p) : 0;
        if (!a || (!b && !own))
            continue;
        if (!header) {
            printf("\nratios (median ns/op):\n");
            header = true;
        }
        if (b) {
            double x = a->ns / b->ns;
            printf("  %s / %s = %.2fx%s  - %s\n", p.num, p.den, x,
                   own ? "" : target_note(x, p.target_max).c_str(), p.what);
        }
        if (own) {
            double x = own_ratio_of(*a, p);
            if (!x)
                x = a->ns / own;
            printf("  %s / %s measured before each repetition (median %.1f ns) = %.2fx"
                   " (median of the per-repetition ratios)%s\n",
                   p.num, p.den, own, x, target_note(x, p.target_max).c_str());
        }
    }
}

void json_string(FILE *f, const std::string &s)
{
    fputc('"', f);
    for (unsigned char c : s) {
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void json_number(FILE *f, double v)
{
    if (std::isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

// One JSON array, one object per benchmark that ran, in table order:
//   {"name", "runtime", "params", "workers", "ns_per_op" (median),
//    "min_ns_per_op", "max_ns_per_op", "ops_per_sec", "ops" (per repetition,
//    the median repetition's), "repetitions", "ok", ["fail"], [extra counters
//    by their key], ["ratios": {"<den>": num/den, ...}]}
bool write_json(const std::string &path, const std::vector<Result> &rs)
{
    FILE *f = fopen(path.c_str(), "w");
    if (!f) {
        fprintf(stderr, "hive-bench: cannot write %s: %s\n", path.c_str(), strerror(errno));
        return false;
    }
    fputs("[\n", f);
    for (size_t i = 0; i < rs.size(); i++) {
        const Result &r = rs[i];
        fputs("  {\"name\": ", f);
        json_string(f, r.rec->name);
        fputs(", \"runtime\": ", f);
        json_string(f, r.rec->runtime);
        fputs(", \"params\": ", f);
        json_string(f, r.rec->params);
        fprintf(f, ", \"workers\": %d, \"ns_per_op\": ", r.workers);
        json_number(f, r.ns);
        fputs(", \"min_ns_per_op\": ", f);
        json_number(f, r.min_ns);
        fputs(", \"max_ns_per_op\": ", f);
        json_number(f, r.max_ns);
        fputs(", \"ops_per_sec\": ", f);
        json_number(f, 1e9 / r.ns);
        fprintf(f, ", \"ops\": %ld, \"repetitions\": %zu, \"ok\": %s", r.ops,
                r.rec->reps.size(), r.ok ? "true" : "false");
        if (!r.rec->fail.empty()) {
            fputs(", \"fail\": ", f);
            json_string(f, r.rec->fail);
        }
        for (auto &[k, v] : r.extras) {
            fputs(", ", f);
            json_string(f, k);
            fputs(": ", f);
            json_number(f, v);
        }
        bool any = false;
        for (auto &p : kRatios) {
            if (r.rec->name != p.num)
                continue;
            if (const Result *b = result_of(rs, p.den)) {
                fputs(any ? ", " : ", \"ratios\": {", f);
                json_string(f, p.den);
                fputs(": ", f);
                json_number(f, r.ns / b->ns);
                any = true;
            }
            if (double own = own_floor_of(r, p)) {
                double x = own_ratio_of(r, p);
                fputs(any ? ", " : ", \"ratios\": {", f);
                json_string(f, p.own_floor);
                fputs(": ", f);
                json_number(f, x ? x : r.ns / own);
                any = true;
            }
        }
        if (any)
            fputs("}", f);
        fputs(i + 1 < rs.size() ? "},\n" : "}\n", f);
    }
    fputs("]\n", f);
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok)
        fprintf(stderr, "hive-bench: error writing %s\n", path.c_str());
    return ok;
}

void usage(FILE *f)
{
    fprintf(f,
            "usage: hive-bench [--only=a,b] [--json=FILE] [--workers=N] [--min-time=S]\n"
            "                  [--repetitions=N] [--list] [--benchmark_*...]\n"
            "  --only=a,b       run only these benchmarks (exact names)\n"
            "  --json=FILE      also write the results as a JSON array\n"
            "  --workers=N      worker count for the scheduler benchmarks\n"
            "  --min-time=S     default seconds per repetition (%g)\n"
            "  --repetitions=N  default repetitions (%d)\n"
            "  --list           print the benchmark names and exit\n"
            "  --benchmark_*    passed to Google Benchmark\n",
            kDefaultMinTime, kDefaultRepetitions);
}

bool parse_num(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0))
        return false;
    *out = v;
    return true;
}

} // namespace

extern "C" {

void hive_bench_register(const char *name, const char *runtime, const char *params,
                         hive_bench_fn fn, void *arg, long ops, int repetitions,
                         double min_time)
{
    Record r;
    r.name = name;
    r.runtime = runtime;
    r.params = params ? params : "";
    r.fn = fn;
    r.arg = arg;
    r.ops = ops;
    r.repetitions = repetitions;
    r.min_time = min_time;
    if (find(r.name)) {
        fprintf(stderr, "hive-bench: benchmark %s registered twice\n", name);
        abort();
    }
    registry().push_back(std::move(r));
}

void hive_bench_pause(hive_bench_t *b)
{
    Call *c = call_of(b);
    if (!c->paused) {
        c->state->PauseTiming();
        c->paused = true;
    }
}

void hive_bench_resume(hive_bench_t *b)
{
    Call *c = call_of(b);
    if (c->paused) {
        c->state->ResumeTiming();
        c->paused = false;
    }
}

void hive_bench_params(hive_bench_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    call_of(b)->rec->params = vformat(fmt, ap);
    va_end(ap);
}

void hive_bench_workers(hive_bench_t *b, int n) { call_of(b)->workers = n; }

void hive_bench_counter(hive_bench_t *b, const char *key, double value)
{
    auto &ex = call_of(b)->extras;
    for (auto &kv : ex)
        if (kv.first == key) {
            kv.second = value;
            return;
        }
    ex.emplace_back(key, value);
}

int hive_bench_fail(hive_bench_t *b, const char *fmt, ...)
{
    Record *r = call_of(b)->rec;
    va_list ap;
    va_start(ap, fmt);
    std::string msg = vformat(fmt, ap);
    va_end(ap);
    r->ok = false;
    if (r->fail.empty())
        r->fail = msg;
    return -1;
}

} // extern "C"

int main(int argc, char **argv)
{
    std::string only, json;
    double min_time = kDefaultMinTime;
    double reps_d = kDefaultRepetitions;
    bool list = false;
    std::vector<char *> gb_argv{argv[0]};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double v;
        if (!strncmp(a, "--only=", 7))
            only = a + 7;
        else if (!strncmp(a, "--json=", 7) && a[7])
            json = a + 7;
        else if (!strncmp(a, "--workers=", 10) && parse_num(a + 10, &v) && v == (int)v)
            g_workers = static_cast<int>(v);
        else if (!strncmp(a, "--min-time=", 11) && parse_num(a + 11, &v))
            min_time = v;
        else if (!strncmp(a, "--repetitions=", 14) && parse_num(a + 14, &v) && v == (int)v)
            reps_d = v;
        else if (!strcmp(a, "--list"))
            list = true;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strncmp(a, "--benchmark_", 12))
            gb_argv.push_back(argv[i]);
        else {
            fprintf(stderr, "hive-bench: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    auto &reg = registry();
    if (list) {
        for (auto &r : reg)
            printf("%s\t%s\t%s\n", r.name.c_str(), r.runtime.c_str(), r.params.c_str());
        return 0;
    }

    // Select: every benchmark, or exactly the names given (an unknown name
    // is an error, not a silently empty run).
    if (only.empty()) {
        for (auto &r : reg)
            r.selected = true;
    } else {
        std::vector<std::string> unknown;
        size_t pos = 0;
        while (pos <= only.size()) {
            size_t comma = only.find(',', pos);
            std::string n = only.substr(pos, comma == std::string::npos ? comma : comma - pos);
            pos = comma == std::string::npos ? only.size() + 1 : comma + 1;
            if (n.empty())
                continue;
            bool hit = false;
            for (auto &r : reg)
                if (r.name == n)
                    r.selected = hit = true;
            if (!hit)
                unknown.push_back(n);
        }
        if (!unknown.empty()) {
            for (auto &n : unknown)
                fprintf(stderr, "hive-bench: unknown benchmark '%s'\n", n.c_str());
            fprintf(stderr, "known benchmarks:");
            for (auto &r : reg)
                fprintf(stderr, " %s", r.name.c_str());
            fprintf(stderr, "\n");
            return 2;
        }
    }

    int gb_argc = static_cast<int>(gb_argv.size());
    gb_argv.push_back(nullptr);
    benchmark::Initialize(&gb_argc, gb_argv.data());
    if (benchmark::ReportUnrecognizedArguments(gb_argc, gb_argv.data()))
        return 2;

    for (auto &r : reg) {
        if (!r.selected)
            continue;
        g_selected++;
        Record *rp = &r; // the registry no longer grows: pointers are stable
        auto *bm = benchmark::RegisterBenchmark(
            r.name.c_str(), [rp](benchmark::State &s) { run_one(s, rp); });
        bm->UseRealTime()->Unit(benchmark::kNanosecond);
        bm->Repetitions(r.repetitions > 0 ? r.repetitions : static_cast<int>(reps_d));
        if (r.ops > 0)
            bm->Iterations(r.ops);
        else
            bm->MinTime(r.min_time > 0 ? r.min_time : min_time);
    }

    Collector collector;
    benchmark::RunSpecifiedBenchmarks(&collector);
    benchmark::Shutdown();

    std::vector<Result> results;
    bool all_ok = true;
    for (auto &r : reg) {
        if (!r.selected || r.reps.empty())
            continue;
        Result res{&r, 0, 0, 0, 0, 1, r.ok, {}};
        std::vector<double> ns;
        std::map<std::string, std::vector<double>> ex;
        for (auto &rep : r.reps) {
            ns.push_back(rep.ns_per_op);
            res.ok = res.ok && rep.ok;
            res.workers = rep.workers;
            for (auto &[k, v] : rep.extras)
                ex[k].push_back(v);
        }
        res.ns = median(ns);
        res.min_ns = *std::min_element(ns.begin(), ns.end());
        res.max_ns = *std::max_element(ns.begin(), ns.end());
        // Google Benchmark runs every repetition with the same count.
        res.ops = r.reps[r.reps.size() / 2].ops;
        for (auto &[k, v] : ex)
            res.extras[k] = median(v);
        all_ok = all_ok && res.ok;
        results.push_back(std::move(res));
    }

    printf("\n");
    print_table(results);
    print_ratios(results);
    for (auto &r : results)
        if (!r.ok)
            printf("\nFAIL %s: %s\n", r.rec->name.c_str(),
                   r.rec->fail.empty() ? "did not verify" : r.rec->fail.c_str());
    fflush(stdout);

    bool json_ok = json.empty() || write_json(json, results);
    if (!json.empty() && json_ok)
        fprintf(stderr, "hive-bench: wrote %s\n", json.c_str());
    return all_ok && json_ok ? 0 : 1;
}
