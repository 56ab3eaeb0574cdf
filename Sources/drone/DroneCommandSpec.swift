import HiveCommandLine

/// The drone's command line, declared once: `drone [options]` runs a worker, `drone bench` measures the llama path.
let droneProgram = ProgramSpec("drone", summary: """
    A Hive worker: connects to honeycombd's bus, announces its tier and capabilities, runs leased tasks (up to \
    --slots at once) and reports results. SIGTERM finishes running tasks (10 s grace), releases the rest back to \
    the hive, and exits.
    """, commands: [benchCommand], defaultCommand: CommandSpec("drone", summary: "run a worker", options: [
        .value("--honeycomb", "URLS", help: "the bus; tls://HOST:PORT for a bus serving TLS (honeycombd --tls-cert): the certificate must name HOST",
               default: "$HIVE_URL, else nats://127.0.0.1:4222"),
        .value("--tls-ca", "FILE", help: "the CA that signed the bus's certificate (honeycombd tls init's ca.pem); given, the connection must be TLS",
               default: "$HIVE_TLS_CA, else the system's trusted CAs"),
        .value("--tls-cert", "FILE", help: "this drone's client certificate, for a bus that requires one (mutual TLS; honeycombd tls client DIR NAME makes NAME.pem and NAME-key.pem)",
               default: "$HIVE_TLS_CERT"),
        .value("--tls-key", "FILE", help: "the key of --tls-cert", default: "$HIVE_TLS_KEY"),
        .value("--tier", "TIER", help: "edge, worker or core", default: "worker"),
        .value("--name", "NAME", help: "the drone's id on the bus and in `hive drones`: the name its credential was issued for (letters, digits, - and _)",
               default: "the host name plus a random suffix"),
        .value("--slots", "N", help: "tasks run at once, 1 to 4096", default: "1"),
        .value("--allow-exec", "PATHS", help: "executables exec tasks may run (comma-separated absolute paths)", default: "none"),
        .value("--side-effects", "PATHS", help: "allowed executables whose tasks change the world (comma-separated): honeycombd holds each such task in awaiting_approval until an operator runs hive approve (or denies it)"),
        .value("--model", "PATH.gguf", help: "serve model tasks (prompts) with this GGUF through llama.cpp (loaded once, shared by every slot)"),
        .value("--ctx", "N", help: "context length per task, 16 to 4194304 tokens; the model's one context holds slots × N", default: "2048"),
        .value("--threads", "N", help: "threads per generation, 1 to 1024", default: "CPU cores"),
        .value("--gpu-layers", "N", help: "layers to offload when llama.cpp was built with a GPU backend", default: "0"),
        .value("--prompt-format", "F", help: "how the model is prompted: chat (through its chat template: instruct models), completion (text continued as given: base models; plan calls get few-shot frames) or auto (chat when the GGUF has a chat template)",
               default: "auto"),
        .value("--api", "openai|anthropic", help: "serve model tasks through an external API instead: OpenAI-compatible chat completions, or Anthropic's Messages API"),
        .value("--base-url", "URL", help: "the API's base URL (…/v1/chat/completions or …/v1/messages is appended)"),
        .value("--api-model", "NAME", help: "the provider's model name"),
        .value("--api-key-env", "VAR", help: "environment variable holding the API key (never logged)", default: "OPENAI_API_KEY or ANTHROPIC_API_KEY"),
        .value("--api-concurrency", "N", help: "requests in flight to the provider at once, 1 to 1024", default: "4"),
        .flag("--api-stream", help: "(openai) request a streamed (SSE) completion and assemble it"),
        .value("--batch", "N", help: "limit: assignments taken in one message and results sent in one, 1 to 4096, when honeycombd agrees (1: one per message)", default: "64"),
        .value("--max-task-ms", "N", help: "limit: longest any task runs here, whatever timeout it came with (a task may ask for less, never more)", default: "3600000"),
        .value("--max-output-bytes", "N", help: "limit: output kept per exec or wasm task, 0 to 67108864 (over 16 KiB it travels as a blob)", default: "65536"),
        .value("--max-blob-bytes", "N", help: "limit: a task's input fetched or output uploaded as a blob, 0 to 1073741824", default: "67108864"),
        .value("--blob-cache-mb", "MiB", help: "fetched input blobs kept for other tasks, 0 to 1048576", default: "256"),
        .value("--exec-env-allow", "NAMES", help: "task environment variables exec processes may see: names, or prefixes ending in * (PATH, HOME, TMPDIR and LD_* stay the drone's unless named)",
               default: "HIVE_*"),
        .value("--exec-max-open-files", "N", help: "open files per exec process, RLIMIT_NOFILE", default: "1024"),
        .value("--exec-max-file-size-mb", "N", help: "largest file an exec process writes, RLIMIT_FSIZE (0: off)", default: "1024"),
        .value("--exec-max-cpu-seconds", "N", help: "CPU seconds per exec process, RLIMIT_CPU (0: off)", default: "0"),
        .value("--exec-max-memory-mb", "N", help: "address space per exec process, RLIMIT_AS (0: off). Core dumps are always off; each exec task runs in its own process group, killed whole at its timeout, on cancel and when the drone stops",
               default: "0"),
        .value("--wasm-max-memory-mb", "N", help: "linear memory per wasm task, at most 4095 (tasks get 64 unless they ask, with memory_mb)", default: "256"),
        .value("--wasm-max-table-elements", "N", help: "table elements per wasm instance, all tables", default: "1000000"),
        .value("--wasm-max-fuel", "N", help: "instructions per wasm task", default: "100000000000"),
        .value("--wasm-max-open-files", "N", help: "files a wasm task holds open in /scratch", default: "64"),
        .value("--wasm-max-scratch-mb", "N", help: "bytes a wasm task writes to /scratch", default: "64"),
        .value("--wasm-module-cache", "N", help: "compiled modules kept", default: "64"),
        .value("--wasm-module-cache-mb", "N", help: "bytes of compiled modules kept", default: "256"),
        .repeated("--mcp", "NAME=COMMAND|NAME=URL", help: "host an MCP server for agent tasks' tools (repeatable): NAME='command args…' starts it over stdio in its own process group (ended with the drone), NAME=http(s)://… reaches it over streamable HTTP; its tools are offered as NAME.<tool> and advertised as tool:NAME.<tool>. A server that cannot start or list its tools is left out with a warning"),
        .repeated("--wasm-tool", "NAME=sha256:HEX[,MANIFEST]", help: "offer a stored WebAssembly module (hive module add) to agent tasks as the tool wasm.NAME (repeatable): the call's arguments are its stdin as JSON, its stdout the result, under the --wasm-max-* limits; MANIFEST is a JSON file {\"description\": …, \"input_schema\": {…}}. Read-only: a module reaches nothing outside. Needs --model or --api"),
        .value("--mcp-read-only", "NAMES", help: "MCP tools with no side effects whatever their annotations say: NAME (every tool of that server) or NAME.TOOL, comma-separated. Other tools are side-effecting (an approval first) unless annotated readOnlyHint: true"),
        .value("--mcp-request-timeout-ms", "N", help: "limit: wait for an MCP server's handshake or tools/list page (a tool call's own timeout is the task's)", default: "30000"),
        .value("--mcp-max-message-bytes", "N", help: "limit: one MCP message (stdio line, HTTP body, SSE event)", default: "4194304"),
        .value("--mcp-max-tools", "N", help: "limit: tools one MCP server may offer", default: "512"),
        .value("--mcp-max-pages", "N", help: "limit: tools/list pages followed per listing", default: "64"),
        .value("--mcp-max-description-bytes", "N", help: "limit: a tool's description (a longer one: the tool is left out, with a warning)", default: "8192"),
        .value("--mcp-max-schema-bytes", "N", help: "limit: a tool's input schema with $ref/$defs inlined (a larger one: the tool is left out)", default: "65536"),
        .value("--mcp-max-schema-depth", "N", help: "limit: nesting of a tool's input schema while inlining", default: "32"),
        .value("--mcp-max-pending-replies", "N", help: "limit: answers to a stdio MCP server's own requests (ping) waiting to be written; past it a request is dropped", default: "16"),
        .value("--mcp-relist-interval-ms", "N", help: "limit: least time between two listings of a server's tools that its notifications/tools/list_changed ask for", default: "250"),
        .value("--log-level", "LEVEL", help: "debug, info, warn or error", default: "info"),
    ]), footer: "Backends: exec (allow-listed commands), wasm (WebAssembly modules from honeycombd, sandboxed), noop, sleep, and model (llama.cpp) with --model or --api.")

/// `drone bench`: see `runModelBenchmark`.
let benchCommand = CommandSpec("bench", summary: "measure the drone's llama path on this machine, as JSON", discussion: """
    Without --parallel: one sequence, measured as llama-bench measures (prompt processing; generation from an empty \
    context). With --parallel N: N concurrent tasks through the path a drone's slots take, distinct prompts of the \
    same length; with --shared-prompt, N sampled candidates of one prompt, timed against one greedy call of it.
    """, options: [
        .value("--model", "PATH.gguf", help: "the model to measure (required)"),
        .value("--prompt-tokens", "N", help: "prompt length, 8 to 1048576 tokens", default: "256"),
        .value("--gen-tokens", "N", help: "tokens generated, 1 to 1048576", default: "128"),
        .value("--threads", "N", help: "threads, 1 to 1024", default: "CPU cores"),
        .value("--ctx", "N", help: "context length, 16 to 4194304 tokens", default: "1024"),
        .value("--runs", "N", help: "repetitions, 1 to 1000", default: "3"),
        .value("--parallel", "N", help: "concurrent tasks, 1 to 4096 (not given: one sequence)"),
        .flag("--shared-prompt", help: "with --parallel: N candidates of one prompt"),
        .value("--json-schema", "SCHEMA|default", help: "measure JSON generation under this schema's grammar (checked first vs grammar-first vs free) instead; default: a built-in schema"),
        .value("--prompt", "TEXT", help: "with --json-schema: the prompt", default: "a built-in one"),
        .value("--temperature", "T", help: "with --json-schema: sampling temperature, 0 to 100", default: "0.8"),
    ])
