// The one translation unit that compiles stb_image and stb_image_resize. stb_image parses hostile bytes, so
// it is cut down to the four formats the product accepts (less code reachable from an uploaded file) and
// built without stdio (the core never touches files).
#include "cortexlens/image.hpp"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_NO_STDIO
#define STBI_NO_LINEAR  // no float (HDR) API: we only want 8- and 16-bit pixels
// A backstop behind probe_image: even a caller that skipped the probe cannot make stb allocate for a side
// longer than the product accepts.
#define STBI_MAX_DIMENSIONS (::cortexlens::ImageLimits::max_side)

#define STB_IMAGE_RESIZE_IMPLEMENTATION

// stb is third-party code we do not edit; its warnings are not ours to fix, ours stay on everywhere else.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wall"
#pragma clang diagnostic ignored "-Wextra"
#pragma clang diagnostic ignored "-Wunused-function"
#pragma clang diagnostic ignored "-Wsign-compare"
#pragma clang diagnostic ignored "-Wmissing-field-initializers"
#pragma clang diagnostic ignored "-Wimplicit-fallthrough"
#pragma clang diagnostic ignored "-Wcast-qual"
#pragma clang diagnostic ignored "-Wdouble-promotion"
#pragma clang diagnostic ignored "-Wunused-but-set-variable"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <stb_image.h>
#include <stb_image_resize.h>

#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace cortexlens {

// stb_image only sets its failure reason on failure and never clears it, so a failure that sets none (a GIF
// with no frame) would otherwise be reported with the reason of some earlier, unrelated file.
// Declared where it is used, in decode.cpp: nothing else may reach into stb.
void stb_clear_failure_reason() { stbi__g_failure_reason = nullptr; }

}  // namespace cortexlens
