#if canImport(Glibc)
import Glibc
#endif

// The drone runtime arrives with the control-plane issue; until then it only explains itself.
let usage = """
    usage: drone --honeycomb URLS --tier edge|worker|core --name NAME [--slots N] [--model PATH.gguf]

    A Hive worker: connects to honeycombd, announces its tier and capabilities, and runs leased tasks.
    Not implemented yet in this build: the drone runtime lands with the control plane.
    """
let args = CommandLine.arguments.dropFirst()
if args.contains("--help") || args.contains("-h") {
    print(usage)
    exit(0)
}
print(usage)
exit(args.isEmpty ? 64 : 69)
