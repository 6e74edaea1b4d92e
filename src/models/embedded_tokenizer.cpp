// The CLIP BPE vocabulary compiled into the program (data/tokenizers/sd1, MIT): the files are pulled in
// byte for byte by the assembler's .incbin (GNU as and clang's integrated assembler alike), so no
// tokenizer file is needed at run time.
#include <string_view>

#include "comfy/models/clip_tokenizer.hpp"

#ifndef COMFY_TOKENIZER_DIR
#error "COMFY_TOKENIZER_DIR (the data/tokenizers/sd1 folder) must be defined by the build"
#endif
#ifndef COMFY_TOKENIZER_SHA
#define COMFY_TOKENIZER_SHA ""
#endif

// sym .. sym_end: the file's bytes (a NUL follows, outside the range)
#define COMFY_INCBIN(sym, file)                                                                   \
  __asm__(".section .rodata\n.balign 16\n.globl " #sym "\n.hidden " #sym "\n" #sym ":\n.incbin \"" \
          file "\"\n.globl " #sym "_end\n.hidden " #sym "_end\n" #sym "_end:\n.byte 0\n.previous\n")

COMFY_INCBIN(comfy_sd1_vocab_json, COMFY_TOKENIZER_DIR "/vocab.json");
COMFY_INCBIN(comfy_sd1_merges_txt, COMFY_TOKENIZER_DIR "/merges.txt");

extern "C" {
extern const char comfy_sd1_vocab_json[], comfy_sd1_vocab_json_end[];
extern const char comfy_sd1_merges_txt[], comfy_sd1_merges_txt_end[];
}

namespace comfy {

// The build hashes the files into this string, so a changed vocabulary recompiles (and misses ccache).
static const char kEmbeddedSha[] = COMFY_TOKENIZER_SHA;

std::string_view ClipBpe::embedded_vocab_json() {
  return {comfy_sd1_vocab_json, size_t(comfy_sd1_vocab_json_end - comfy_sd1_vocab_json)};
}
std::string_view ClipBpe::embedded_merges_txt() {
  return {comfy_sd1_merges_txt, size_t(comfy_sd1_merges_txt_end - comfy_sd1_merges_txt)};
}
const char* ClipBpe::embedded_sha256() { return kEmbeddedSha; }

}  // namespace comfy
