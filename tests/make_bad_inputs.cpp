// Writes tests/bad_inputs/: broken image files made by the project's own code, so the corpus can be
// regenerated and every byte of it explained. Usage: make_bad_inputs [output_dir] (default tests/bad_inputs).
// Needs only tests/image_fixtures.cpp (stb_image_write). The output is deterministic; rerunning it must
// leave the committed files unchanged. test_image.cpp pins the message each file must produce.
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "image_fixtures.hpp"

namespace fx = cortexlens::fixtures;

namespace {

// A small photo-like RGB image: smooth gradients plus noise, so the compressed data is neither trivial nor huge.
std::vector<std::uint8_t> photo_like_pixels(int width, int height, int channels) {
  std::mt19937 random(20240601u);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(width) * height * channels);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        const int level = (x * 255 / width + y * 128 / height + c * 60) % 256 + static_cast<int>(random() % 16);
        pixels[(static_cast<std::size_t>(y) * width + x) * channels + c] = static_cast<std::uint8_t>(level % 256);
      }
    }
  }
  return pixels;
}

fx::Bytes prefix(const fx::Bytes& bytes, std::size_t length) {
  return fx::Bytes(bytes.begin(), bytes.begin() + length);
}

fx::Bytes png_claiming(std::uint32_t width, std::uint32_t height) {
  fx::Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  fx::Bytes header;
  fx::append_u32_be(header, width);
  fx::append_u32_be(header, height);
  header.insert(header.end(), {8, 2, 0, 0, 0});  // 8-bit RGB
  for (const fx::Bytes& chunk :
       {fx::png_chunk("IHDR", header), fx::png_chunk("IDAT", {0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}),
        fx::png_chunk("IEND", {})}) {
    png.insert(png.end(), chunk.begin(), chunk.end());
  }
  return png;
}

struct Entry {
  std::string name;
  fx::Bytes bytes;
  std::string why;
};

}  // namespace

// Long by design: a flat list of fixtures, one block per bad file (tests/bad_inputs/README.md says what each is).
int main(int argc, char** argv) {
  const std::string directory = argc > 1 ? argv[1] : "tests/bad_inputs";
  std::vector<Entry> entries;
  auto add = [&](std::string name, fx::Bytes bytes, std::string why) {
    entries.push_back({std::move(name), std::move(bytes), std::move(why)});
  };

  const int width = 64, height = 48;
  const fx::Bytes jpeg = fx::encode_jpeg(width, height, 3, photo_like_pixels(width, height, 3), 90);
  const fx::Bytes png = fx::encode_png(width, height, 3, photo_like_pixels(width, height, 3));
  const fx::Bytes bmp = fx::encode_bmp(width, height, 3, photo_like_pixels(width, height, 3));
  std::vector<std::uint8_t> gif_indices(static_cast<std::size_t>(width) * height);
  for (std::size_t i = 0; i < gif_indices.size(); ++i) gif_indices[i] = static_cast<std::uint8_t>((i / 3 + i / 64) % 4);
  const fx::Bytes gif =
      fx::encode_gif(width, height, {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}}, {gif_indices});

  add("empty.jpg", {}, "0 bytes");
  const std::string html = "<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n";
  add("html_named.jpg", fx::Bytes(html.begin(), html.end()), "a text file (an HTML error page) named .jpg");
  {
    std::mt19937 random(1234u);
    fx::Bytes garbage(4096);
    for (auto& byte : garbage) byte = static_cast<std::uint8_t>(random() & 0xFF);
    add("random_4096_seed1234.bin", garbage, "4096 random bytes (mt19937, seed 1234)");
    fx::Bytes after_jpeg_magic = {0xFF, 0xD8, 0xFF};
    after_jpeg_magic.insert(after_jpeg_magic.end(), garbage.begin(), garbage.begin() + 1024);
    add("random_after_jpeg_magic.jpg", after_jpeg_magic, "JPEG signature followed by random bytes");
    fx::Bytes after_png_magic = prefix(png, 8);
    after_png_magic.insert(after_png_magic.end(), garbage.begin(), garbage.begin() + 1024);
    add("random_after_png_magic.png", after_png_magic, "PNG signature followed by random bytes");
  }

  add("truncated_jpeg_3_bytes.jpg", prefix(jpeg, 3), "the first 3 bytes of a JPEG: SOI and half a marker");
  add("truncated_jpeg_100_bytes.jpg", prefix(jpeg, 100), "a JPEG cut inside its quantisation tables");
  add("truncated_jpeg_at_scan.jpg", prefix(jpeg, fx::find_jpeg_scan_data(jpeg)),
      "a JPEG cut right where its entropy-coded data starts");
  add("truncated_jpeg_half.jpg", prefix(jpeg, jpeg.size() / 2), "a JPEG cut halfway through its image data");
  add("truncated_jpeg_no_eoi.jpg", prefix(jpeg, jpeg.size() - 2), "a complete JPEG without its EOI marker");

  add("truncated_png_20_bytes.png", prefix(png, 20), "a PNG cut inside its IHDR chunk");
  add("truncated_png_after_ihdr.png", prefix(png, 33), "a PNG cut right after IHDR, before any image data");
  add("truncated_png_half.png", prefix(png, png.size() / 2), "a PNG cut halfway through its IDAT chunk");
  add("truncated_png_no_iend.png", prefix(png, png.size() - 12), "a complete PNG without its IEND chunk");

  add("truncated_bmp_half.bmp", prefix(bmp, bmp.size() / 2), "a 24-bit BMP cut halfway through its pixels");
  add("truncated_gif_8_bytes.gif", prefix(gif, 8), "a GIF cut inside its logical screen descriptor");
  add("truncated_gif_half.gif", prefix(gif, gif.size() / 2), "a GIF cut halfway through its first frame's data");
  add("gif_no_frames.gif", fx::encode_gif(width, height, {{0, 0, 0}, {255, 255, 255}}, {}),
      "a GIF with a header, palette and trailer but no image");

  add("png_claims_60000x60000.png", png_claiming(60000, 60000),
      "a PNG whose IHDR (valid CRC) claims 60000x60000 pixels: over the 20000-pixel side limit");
  add("png_claims_20000x20000.png", png_claiming(20000, 20000),
      "a PNG whose IHDR claims 20000x20000: each side allowed, 400 megapixels over the 50-megapixel limit");
  {
    fx::Bytes huge = jpeg;
    const std::size_t frame = fx::find_jpeg_frame_header(jpeg);  // length u16, precision u8, height u16, width u16
    for (std::size_t at : {frame + 3, frame + 5}) {
      huge[at] = 30000 >> 8;
      huge[at + 1] = 30000 & 0xFF;
    }
    add("jpeg_claims_30000x30000.jpg", huge, "a JPEG whose SOF0 claims 30000x30000 pixels");

    fx::Bytes arithmetic = jpeg;
    arithmetic[frame - 1] = 0xC9;
    add("jpeg_arithmetic_sof9.jpg", arithmetic, "a JPEG whose frame marker says arithmetic coding (SOF9)");
    fx::Bytes twelve_bit = jpeg;
    twelve_bit[frame + 2] = 12;
    add("jpeg_12_bit.jpg", twelve_bit, "a JPEG whose frame header says 12-bit samples");
  }

  {
    // Found by fuzzing: stb_image 2.27 writes past its Huffman arrays when a table declares over 256 codes.
    fx::Bytes overfull = jpeg;
    std::size_t dht = 2;
    while (dht + 1 < overfull.size() && !(overfull[dht] == 0xFF && overfull[dht + 1] == 0xC4)) ++dht;
    for (std::size_t length = 1; length <= 16; ++length) overfull[dht + 4 + length] = 20;  // 16 x 20 = 320 codes
    add("jpeg_huffman_table_320_codes.jpg", overfull, "a JPEG whose first Huffman table declares 320 codes");
  }

  {
    // stb_image 2.27 decodes with uninitialised tables when a scan uses one that was never defined. Motion-JPEG
    // frames look like this: they rely on the standard tables without carrying them.
    fx::Bytes without_tables;
    std::size_t at = 2;
    without_tables.insert(without_tables.end(), jpeg.begin(), jpeg.begin() + 2);
    while (at + 4 <= jpeg.size() && jpeg[at] == 0xFF && jpeg[at + 1] != 0xDA) {
      const std::size_t length = static_cast<std::size_t>(jpeg[at + 2] << 8 | jpeg[at + 3]);
      if (jpeg[at + 1] != 0xC4) {
        without_tables.insert(without_tables.end(), jpeg.begin() + static_cast<std::ptrdiff_t>(at),
                              jpeg.begin() + static_cast<std::ptrdiff_t>(at + 2 + length));
      }
      at += 2 + length;
    }
    without_tables.insert(without_tables.end(), jpeg.begin() + static_cast<std::ptrdiff_t>(at), jpeg.end());
    add("jpeg_without_huffman_tables.jpg", without_tables, "a JPEG with its DHT segment removed, as in Motion-JPEG");
  }

  // Broken EXIF inside otherwise valid JPEGs: each must still decode, upright as stored (orientation 1).
  const fx::Bytes tiff_header_le = {'I', 'I', 42, 0};
  {
    fx::Bytes tiff = tiff_header_le;
    tiff.insert(tiff.end(), {0xF0, 0xFF, 0xFF, 0x7F});  // IFD0 offset far beyond the segment
    add("exif_ifd_offset_out_of_range.jpg", fx::insert_after_soi(jpeg, fx::exif_segment_from_tiff(tiff)),
        "EXIF whose IFD0 offset points 2 GB past its segment");
  }
  {
    fx::Bytes tiff = tiff_header_le;
    tiff.insert(tiff.end(), {8, 0, 0, 0, 0xFF, 0xFF});  // IFD0 claims 65535 entries, holds part of one
    tiff.insert(tiff.end(), {0x12, 0x01, 3, 0});        // and the first one is cut after its type
    add("exif_entry_count_too_large.jpg", fx::insert_after_soi(jpeg, fx::exif_segment_from_tiff(tiff)),
        "EXIF whose IFD0 claims 65535 entries in a 14-byte block");
  }
  {
    fx::Bytes tiff = {'X', 'Y', 42, 0, 8, 0, 0, 0};
    add("exif_bad_byte_order.jpg", fx::insert_after_soi(jpeg, fx::exif_segment_from_tiff(tiff)),
        "EXIF whose TIFF header has byte order \"XY\"");
  }
  add("exif_orientation_9.jpg", fx::insert_after_soi(jpeg, fx::exif_segment(9, false)),
      "EXIF orientation 9, outside 1..8");
  add("exif_truncated_tiff.jpg", fx::insert_after_soi(jpeg, fx::exif_segment_from_tiff({'M', 'M', 0})),
      "EXIF holding only 3 bytes of TIFF header");

  int failures = 0;
  std::string readme =
      "# Broken image inputs\n\nGenerated by `tests/make_bad_inputs.cpp`; do not edit by hand. "
      "`tests/test_image.cpp` pins the message each one must produce.\n\n";
  for (const Entry& entry : entries) {
    if (!fx::write_file(directory + "/" + entry.name, entry.bytes)) {
      std::fprintf(stderr, "make_bad_inputs: cannot write %s/%s\n", directory.c_str(), entry.name.c_str());
      ++failures;
    }
    readme += "- `" + entry.name + "` (" + std::to_string(entry.bytes.size()) + " bytes): " + entry.why + "\n";
  }
  if (!fx::write_file(directory + "/README.md", fx::Bytes(readme.begin(), readme.end()))) ++failures;
  std::printf("make_bad_inputs: wrote %zu files to %s\n", entries.size(), directory.c_str());
  return failures == 0 ? 0 : 1;
}
