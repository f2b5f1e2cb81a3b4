"""The table `make bench` prints, and docs/performance.md records, from bench/results.json."""

from __future__ import annotations


def _row(name: str, entry: dict, other: str) -> tuple:
    return (
        name,
        f"{entry['ours_seconds']:.2f}s",
        f"{entry['baseline_seconds']:.2f}s",
        f"{entry['ratio']:.2f}x",
        other,
        entry["target"],
    )


def privacy_rows(results: dict) -> list[tuple]:
    delete = results.get("privacy_delete")
    if delete is None:  # a results file from before the scenario
        return []
    return [
        (
            "privacy delete 1k subjects, 10^6 events",
            f"{delete['seconds']:.2f}s",
            f"{delete['baseline_seconds']:.2f}s",
            f"{delete['ratio']:.2f}x",
            f"{delete['objects_read']} objects read, {delete['objects_rewritten']} rewritten; "
            f"{delete['aws_requests_total']} AWS req; ${delete['aws_cost_per_subject']:.6f}/subject on AWS",
            delete["target"],
        )
    ]


def member_list_rows(results: dict) -> list[tuple]:
    erasure = results.get("member_list_erasure")
    if erasure is None:  # a results file from before the scenario
        return []
    large = erasure["sizes"]["10000000"]
    model = erasure["model_1e8"]
    return [
        (
            "privacy: 1k subjects out of a 10^7 list",
            f"{erasure['ours_seconds']:.2f}s",
            f"{erasure['baseline_seconds']:.2f}s",
            f"{erasure['ratio']:.2f}x",
            f"peak RSS {erasure['peak_rss_mb']:.0f} MB (10^6: {erasure['peak_rss_mb_at_1e6']:.0f} MB; held whole "
            f"{erasure['in_memory_peak_rss_mb']:.0f} MB); /tmp {large['tmp_bytes'] / 1e6:.0f} MB; 10^8 modeled "
            f"{model['seconds']['total']:.0f}s, /tmp {model['tmp_bytes'] / 1e9:.1f} GB",
            erasure["target"],
        )
    ]


def engine_rows(compute: dict) -> list[tuple]:
    rows = []
    for size, label in (("1000000", "1M"), ("10000000", "10M")):
        entry = compute["engines"][size]
        base = entry["coreutils"]
        for arm, name in (
            ("ours", "ours"),
            ("duckdb", "one DuckDB statement"),
            ("polars_lazy", "one lazy Polars query"),
        ):
            if (size, arm) == ("1000000", "ours"):
                continue  # the row above
            rows.append(
                (
                    f"compute {label} rows: {name}",
                    f"{entry[arm]['seconds']:.2f}s",
                    f"{base['seconds']:.2f}s",
                    f"{entry[arm]['ratio_to_coreutils']:.2f}x",
                    f"peak RSS {entry[arm]['peak_rss_mb']:.0f} MB"
                    + ("; errors equal ours" if compute["engine_errors_equal_ours"].get(arm.split("_")[0]) else ""),
                    compute["target"],
                )
            )
    return rows


def table(results: dict) -> str:
    ingest, near, sizes = results["ingest"], results["ingest_in_region"], results["ingest_request_sizes"]
    query, subset, hot = results["customer_query"], results["customer_subset"], results["concurrency"]
    compute, end_to_end, cold = results["import_compute"], results["import_end_to_end"], results["cold_start"]
    listing, run, sweep = results["audience_listing"], results["run_compute"], results["expiry_sweep"]
    amplification, apply = end_to_end["write_amplification"], end_to_end["apply"]
    one, ten, full = sizes["1"], sizes["10"], sizes["500"]
    rows = [
        ("scenario", "ours", "baseline", "ratio", "other", "target"),
        _row("ingest 10k fresh transitions", ingest, f"{ingest['aws_requests_per_event']:.3f} AWS req/event"),
        _row("ingest 10k, 5 ms per request", near, f"{near['aws_requests_per_event']:.3f} AWS req/event"),
        (
            "ingest in 1/10/500-event requests",
            "",
            "",
            "",
            f"{one['aws_requests_per_event']:.2f}/{ten['aws_requests_per_event']:.2f}/"
            f"{full['aws_requests_per_event']:.3f} AWS req/event; $"
            f"{one['cost_per_million_events']['total']:.2f}/{ten['cost_per_million_events']['total']:.2f}/"
            f"{full['cost_per_million_events']['total']:.2f} per million events",
            sizes["target"],
        ),
        _row(
            "Segment Tracking API, 10k Engage calls",
            results["tracking"],
            f"vs ODP events, batches of 100; {results['tracking']['aws_requests_per_event']:.3f} AWS req/event "
            f"(ODP {results['tracking']['odp_aws_requests_per_event']:.3f})",
        ),
        (
            "concurrency: 8 writers, 1 audience",
            f"{hot['seconds']:.2f}s",
            "",
            "",
            f"{hot['events_per_second']:.0f} events/s; {hot['aws_requests_per_event']:.3f} req/event; "
            f"{hot['cancelled_transactions_per_event']:.3f} cancelled/event; sizes exact",
            hot["target"],
        ),
        _row("customer query, 1-user table", query, f"{query['aws_requests_per_query']:.2f} AWS req/query"),
        _row("customer subset 5 of 1,000", subset, f"{subset['aws_requests_per_query']:.2f} AWS req/query"),
        _row(
            "import compute 1M rows",
            compute,
            f"peak RSS {compute['peak_rss_mb']:.0f} MB (coreutils {compute['baseline_peak_rss_mb']:.0f} MB)",
        ),
        *engine_rows(compute),
        _row(
            "run compute 1M rows, 4 files",
            run,
            f"peak RSS {run['peak_rss_mb']:.0f} MB (coreutils {run['baseline_peak_rss_mb']:.0f} MB)",
        ),
        _row("expiry sweep 1k of 10k", sweep, f"{sweep['aws_requests_per_expired']:.3f} AWS req/expired"),
        _row(
            "import end to end 10k",
            end_to_end,
            f"per change: {amplification['requests_per_change']:.3f} req, {amplification['items_per_change']:.3f} "
            f"items, {amplification['write_units_per_change']:.2f} WU",
        ),
        (
            "apply 1k changes, one worker",
            f"{end_to_end['changes'] / apply['changes_per_second_per_worker']:.2f}s",
            "",
            "",
            f"{apply['chunks']} chunks; {apply['changes_per_second_per_worker']:.0f} changes/s; "
            f"{apply['aws_requests_per_change']:.3f} AWS req/change",
            "reported (moto's per-item cost sets it here; performance.md models AWS)",
        ),
        _row("audience listing 10 pages of 10k", listing, f"{listing['aws_requests_per_page']:.1f} AWS req/page"),
        *privacy_rows(results),
        *member_list_rows(results),
        *physics_rows(results),
    ]
    rows += own_cpu_rows(results)
    for name, entry in cold.items():
        if not isinstance(entry, dict) or "bytecode" not in entry:
            continue
        source = entry["source"]
        rows.append(
            (
                f"cold start {name}",
                f"{entry['seconds']:.3f}s",
                f"{entry['baseline_seconds']:.3f}s",
                f"{entry['ratio']:.2f}x",
                f"INIT + first response ({len(entry['aws_calls'])} AWS calls) vs a minimal handler making them; "
                f"without bytecode {source['seconds']:.3f}s, {source['ratio']:.2f}x",
                cold["target"],
            )
        )
    workers = cold["upload_to_success"]
    rows.append(
        (
            f"upload to SUCCESS, {workers['rows']:,} rows, cold workers",
            f"{workers['seconds']:.2f}s",
            "",
            "",
            f"ImportsFunction INIT + its message {workers['ImportsFunction_seconds']:.2f}s, ApplyFunction INIT + its "
            f"chunk {workers['ApplyFunction_seconds']:.2f}s (moto's per-item work most of it)",
            "reported (SQS workers: no one waits on their INIT)",
        )
    )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def own_cpu_rows(results: dict) -> list[tuple]:
    """Our CPU with AWS's answers replayed, and the SDKs' small uploads."""
    own, small = results["own_cpu"], results["small_uploads"]
    events, queries, rows = own["events"], own["queries"], own["import"]
    one, ten = small["by_events_per_request"]["1"], small["by_events_per_request"]["10"]
    return [
        (
            "own CPU: events, 500 a request",
            f"{own['us_per_event']:.0f}us",
            f"{events['botocore_us_per_event']:.0f}us",
            "",
            "per event, AWS answers replayed; baseline: botocore alone sending the same requests",
            "<= 50 us per event",
        ),
        (
            "own CPU: warm customer query",
            f"{own['ms_per_query']:.2f}ms",
            f"{queries['botocore_ms_per_query']:.2f}ms",
            "",
            "per query, AWS answers replayed; baseline: botocore alone sending the same Query",
            "<= 0.3 ms per query",
        ),
        (
            "own CPU: imported rows, outside Polars",
            f"{own['us_per_imported_row']:.2f}us",
            "",
            "",
            f"a first import of {rows['rows']:,} rows planned ({rows['seconds']:.2f}s) less its compute path "
            f"({rows['compute_seconds']:.2f}s)",
            "<= 1 us per row",
        ),
        (
            "small uploads: 1 and 10 events",
            "",
            "",
            "",
            f"{one['requests_per_event']:.2f}/{ten['requests_per_event']:.2f} req/event, {one['round_trips']:.0f}/"
            f"{ten['round_trips']:.0f} round trips, ${one['cost_per_million_events']:.2f}/"
            f"{ten['cost_per_million_events']:.2f} per million; archived in the transaction: "
            f"{one['one_request_design']['requests_per_event']:.2f}/{ten['one_request_design']['requests_per_event']:.2f}"
            f" req/event, ${one['one_request_design']['cost_per_million_events']:.2f}/"
            f"{ten['one_request_design']['cost_per_million_events']:.2f} per million",
            "1 round trip and <= 1.1 req/event, or no design reaching it at equal or lower cost",
        ),
    ]


def physics_rows(results: dict) -> list[tuple]:
    """Where the write units land, conflicts under concurrency, and the AWS models."""
    heat, conflicts = results["key_heat"], results["conflicts"]["workers_10"]
    rows = []
    for name in ("ingest", "ingest_1_event_requests", "ingest_one_tenant", "import_end_to_end", "expiry"):
        entry = heat[name]
        ceiling = entry["changes_per_second_ceiling"]
        rows.append(
            (
                f"key heat: {name.replace('_', ' ')}",
                "",
                "",
                f"{entry['hottest_share']:.4f}",
                f"hottest {entry['hottest_key']}; {entry['write_units_per_change']:.2f} WU/change; "
                f"ceiling {ceiling:,.0f} changes/s at 1,000 WU/s per key",
                heat["target"] if name in ("ingest", "import_end_to_end", "expiry") else "reported",
            )
        )
    rows.append(
        (
            "conflicts: 10 apply workers, 1 audience",
            f"{conflicts['seconds']:.2f}s",
            "",
            f"{conflicts['cancelled_per_change']:.4f}",
            f"{conflicts['cancelled_transactions']} of {conflicts['transactions']} transactions cancelled for "
            f"{conflicts['changes']:,} changes; size exact",
            conflicts["target"],
        )
    )
    model, ingest = results["model_1e8"], results["model_ingest_1e4"]
    rows.append(
        (
            "model: a 10^8-member audience on AWS",
            f"{model['planning_s']:.0f}s",
            "",
            "",
            f"planning {model['planning_s']:.0f} s; first import {model['first_import_prewarmed_h']:.2f} h "
            f"pre-warmed, {model['first_import_new_table_h']:.2f} h new table; ${model['cost_usd']:.0f}; "
            f"invocations <= {model['max_invocation_share_of_timeout']:.2f} of their timeouts",
            model["targets"],
        )
    )
    reference = ingest["by_events_per_request"][str(ingest["reference_events_per_request"])]
    rows.append(
        (
            "model: 10^4 events/s sustained",
            "",
            "",
            "",
            f"at {ingest['reference_events_per_request']} events a request: binds first {ingest['binding_quota']} "
            f"({reference['binding_headroom']:.1f}x headroom); ok={ingest['ok']}",
            "ok once the template and documented quotas reach it",
        )
    )
    return rows
