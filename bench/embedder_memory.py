"""What the local embedder costs in memory and time: the int8 model file as shipped or its folded copy (see
memories/engine/embedder.model_file), with onnxruntime's memory arena on (its default) or off (ours). For each,
the process's RSS after the model loads and after a run of batches as an import makes them, and the time of one
short text (a search's query) and of a batch of 16, before and after those batches. Each setting runs in a
process of its own, so that one's allocations do not count against another's.

    .venv/bin/python bench/embedder_memory.py
"""
import statistics
import subprocess
import sys
import time



def rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def measure(model: str, arena: bool) -> None:
    from benchsetup import django_setup

    django_setup("om-bench-embedder-")
    import memories.engine.embedder as embedder_module

    embedder_module.model_file()  # folded before measuring (once per data directory), in a process of its own
    if model == "int8":
        embedder_module.model_file = embedder_module.int8_model_file

    if arena:  # the setting as onnxruntime ships it
        import onnxruntime as ort

        real = ort.SessionOptions

        class WithArena(real):
            def __setattr__(self, name, value):
                super().__setattr__(name, True if name == "enable_cpu_mem_arena" else value)

        ort.SessionOptions = WithArena
    embedder = embedder_module.LocalEmbedder()
    before = rss_mib()
    embedder._encode(["warm up"])
    loaded = rss_mib()

    def timed(texts: list[str], rounds: int) -> float:
        samples = []
        for round_ in range(rounds):
            started = time.perf_counter()
            embedder._encode([f"{text} {round_}" for text in texts])
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    query = ["what does caroline like to do at the weekend"]
    batch = [f"memory number {i}: " + "she went hiking near the lake with her dog " * 3 for i in range(16)]
    single_before, batch_before = timed(query, 50), timed(batch, 10)
    for words in range(10, 250, 12):  # an import's batches: 16 texts a run, up to the longest (256 tokens)
        embedder._encode([f"text {i} " + "word " * words for i in range(16)])
    after = rss_mib()
    single_after, batch_after = timed(query, 50), timed(batch, 10)
    label = f"{model} file, arena {'on' if arena else 'off'}" + (" (ours)" if model == "folded" and not arena else "")
    print(f"{label:<30} model loaded +{loaded - before:5.0f} MiB   after the batches +{after - before:5.0f} MiB   "
          f"one text {single_before:.2f} / {single_after:.2f} ms   16 texts {batch_before:.1f} / {batch_after:.1f} ms")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        measure(sys.argv[1], sys.argv[2] == "on")
    else:
        print("RSS growth from loading the model (tokenizer included) and after the batches; times (medians) "
              "before / after them")
        for model, arena in [("int8", "on"), ("int8", "off"), ("folded", "on"), ("folded", "off")]:
            subprocess.run([sys.executable, __file__, model, arena], check=True)
