/* What a device vendor writes: load the model bundle once at start-up, then, for each exam, hand
 * the library the pixel buffers the device software already holds (both eyes, fundus photograph,
 * OCT B-scan, meibography), stream the report into the user interface (stdout here) as it is
 * written, and keep the structured JSON for the patient record. Every failure is reported with
 * its status and the library's message.
 *
 *   ophtha_example_report MODEL_BUNDLE_DIR [max_tokens]
 *
 * The frames are synthesised in memory, as a capture card or a DICOM decoder would hand them
 * over: RGB8 fundus frames with padded rows, GRAY8 OCT and meibography frames.
 *
 * Build: part of the Ophtha build (OPHTHA_BUILD_EXAMPLES), or against an installed Ophtha:
 *   cc -std=c99 report.c $(pkg-config --cflags --libs ophtha) -lm */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ophtha/ophtha.h"

enum { FRAMES_PER_EXAM = 6 };

/* One captured frame as the device software holds it. */
typedef struct {
  unsigned char *pixels;
  int32_t width, height;
  size_t row_stride; /* bytes; may exceed width x bytes per pixel (row padding) */
  ophtha_pixel_format format;
  ophtha_modality modality;
  ophtha_eye eye;
} Frame;

/* The "user interface": the report appears piece by piece, as the model writes it. */
typedef struct {
  size_t n_pieces;
} ReportView;

static int32_t show_piece(const char *text, size_t length, int32_t token, void *user_data) {
  ReportView *view = (ReportView *)user_data;
  (void)token;
  fwrite(text, 1, length, stdout);
  fflush(stdout);
  ++view->n_pieces;
  return 0; /* 0: go on; non-zero would stop the report here */
}

static int fail(const char *what, ophtha_status status) {
  fprintf(stderr, "%s failed: %s (%d): %s\n", what, ophtha_status_string(status), (int)status,
          ophtha_last_error_message());
  return 1;
}

/* A fundus-like RGB8 frame: orange-red retina in a dark field of view, a bright optic disc on
 * the nasal side (right of centre for OD, left for OS). Rows are padded to a multiple of 64 bytes. */
static int synthesise_fundus(Frame *frame, int32_t size, ophtha_eye eye, int exam) {
  const double centre = size / 2.0, radius = size * 0.46;
  const double disc_x = centre + (eye == OPHTHA_EYE_OD ? 1 : -1) * size * 0.18, disc_r = size * 0.07;
  int32_t x, y;
  frame->width = frame->height = size;
  frame->row_stride = ((size_t)size * 3 + 63) / 64 * 64;
  frame->format = OPHTHA_PIXEL_RGB8;
  frame->modality = OPHTHA_MODALITY_CFP;
  frame->eye = eye;
  frame->pixels = (unsigned char *)calloc(frame->row_stride, (size_t)size);
  if (!frame->pixels) return 0;
  for (y = 0; y < size; ++y) {
    unsigned char *row = frame->pixels + (size_t)y * frame->row_stride;
    for (x = 0; x < size; ++x) {
      const double r = hypot(x - centre, y - centre), d = hypot(x - disc_x, y - centre);
      if (r > radius) continue;
      row[3 * x + 0] = (unsigned char)(200 - 60 * r / radius + 5 * exam);
      row[3 * x + 1] = (unsigned char)(d < disc_r ? 210 : 90 - 30 * r / radius);
      row[3 * x + 2] = (unsigned char)(d < disc_r ? 160 : 40);
    }
  }
  return 1;
}

/* A GRAY8 frame of horizontal bands: retinal layers over a B-scan for OCT, gland-like stripes
 * for meibography. Tightly packed rows. */
static int synthesise_gray(Frame *frame, int32_t width, int32_t height, ophtha_modality modality,
                           ophtha_eye eye, int exam) {
  int32_t x, y;
  frame->width = width;
  frame->height = height;
  frame->row_stride = (size_t)width;
  frame->format = OPHTHA_PIXEL_GRAY8;
  frame->modality = modality;
  frame->eye = eye;
  frame->pixels = (unsigned char *)malloc((size_t)width * (size_t)height);
  if (!frame->pixels) return 0;
  for (y = 0; y < height; ++y) {
    for (x = 0; x < width; ++x) {
      double value;
      if (modality == OPHTHA_MODALITY_OCT) {
        const double surface = height * (0.4 + 0.05 * sin(x * 6.2832 / width));
        value = y < surface ? 10 : 180 * exp(-(y - surface) / (height * 0.15)) * (0.8 + 0.2 * sin(y * 0.9));
      } else {
        value = 60 + 120 * (0.5 + 0.5 * sin(x * 0.25 + exam)) * (y > height / 4 && y < 3 * height / 4);
      }
      frame->pixels[(size_t)y * frame->row_stride + (size_t)x] = (unsigned char)value;
    }
  }
  return 1;
}

static void free_frames(Frame *frames, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    free(frames[i].pixels);
    frames[i].pixels = NULL;
  }
}

/* What the device hands over for exam `exam`: three modalities of each eye. */
static int capture_exam(Frame frames[FRAMES_PER_EXAM], int exam) {
  const ophtha_eye eyes[2] = {OPHTHA_EYE_OD, OPHTHA_EYE_OS};
  int e, ok = 1;
  memset(frames, 0, FRAMES_PER_EXAM * sizeof *frames);
  for (e = 0; e < 2; ++e) {
    ok = ok && synthesise_fundus(&frames[3 * e + 0], 256, eyes[e], exam);
    ok = ok && synthesise_gray(&frames[3 * e + 1], 320, 160, OPHTHA_MODALITY_OCT, eyes[e], exam);
    ok = ok && synthesise_gray(&frames[3 * e + 2], 288, 192, OPHTHA_MODALITY_OSA, eyes[e], exam);
  }
  if (!ok) free_frames(frames, FRAMES_PER_EXAM);
  return ok;
}

/* One exam: copy the frames into ophtha images, stream the report, print its JSON. */
static int report_exam(ophtha_session *session, const Frame frames[FRAMES_PER_EXAM], const char *findings,
                       int32_t max_tokens) {
  ophtha_image *images[FRAMES_PER_EXAM] = {NULL};
  ophtha_report *report = NULL;
  ophtha_report_params params;
  ReportView view = {0};
  ophtha_status status = OPHTHA_STATUS_OK;
  size_t i;
  int exit_code = 0;

  for (i = 0; i < FRAMES_PER_EXAM && status == OPHTHA_STATUS_OK; ++i) {
    const Frame *f = &frames[i];
    status = ophtha_image_from_pixels(f->pixels, f->width, f->height, f->row_stride, f->format, f->modality,
                                      f->eye, &images[i]);
  }
  if (status != OPHTHA_STATUS_OK) {
    exit_code = fail("ophtha_image_from_pixels", status);
    goto done;
  }
  status = ophtha_report_params_default(&params, sizeof params);
  if (status != OPHTHA_STATUS_OK) {
    exit_code = fail("ophtha_report_params_default", status);
    goto done;
  }
  params.lang = "en";
  params.findings = findings;
  params.max_tokens = max_tokens;
  params.temperature = 0.0f; /* greedy: the same exam gives the same report */
  params.token_callback = show_piece;
  params.token_user_data = &view;

  printf("--- report ---\n");
  status = ophtha_report_generate(session, (const ophtha_image *const *)images, FRAMES_PER_EXAM, &params, &report);
  printf("\n");
  if (status != OPHTHA_STATUS_OK) {
    exit_code = fail("ophtha_report_generate", status);
    goto done;
  }
  printf("--- structured (%zu pieces streamed) ---\n%s\n", view.n_pieces, ophtha_report_json(report));

done:
  ophtha_report_free(report);
  for (i = 0; i < FRAMES_PER_EXAM; ++i) ophtha_image_free(images[i]);
  return exit_code;
}

int main(int argc, char **argv) {
  static const char *const findings[] = {"IOP 16 mmHg OU; BCVA 0.8 OD, 0.6 OS",
                                         "IOP 22 mmHg OD, 19 mmHg OS; tear break-up time 4 s"};
  ophtha_model *model = NULL;
  ophtha_session *session = NULL;
  ophtha_status status;
  int32_t max_tokens = argc > 2 ? (int32_t)atoi(argv[2]) : 0;
  int exam, exit_code = 0;

  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL_BUNDLE_DIR [max_tokens]\n", argv[0]);
    return 2;
  }
  if (ophtha_abi_version() != OPHTHA_ABI_VERSION) {
    fprintf(stderr, "libophtha %s has ABI %u, this program was built for ABI %d\n", ophtha_version(),
            (unsigned)ophtha_abi_version(), OPHTHA_ABI_VERSION);
    return 1;
  }

  /* Start-up: the bundle is loaded once and serves every exam of the day. */
  status = ophtha_model_load(argv[1], NULL, &model);
  if (status != OPHTHA_STATUS_OK) return fail("ophtha_model_load", status);
  if (!ophtha_model_has_vision(model)) {
    fprintf(stderr, "%s is a plain language model, not a model bundle: it cannot write reports\n", argv[1]);
    ophtha_model_free(model);
    return 1;
  }
  status = ophtha_session_create(model, NULL, &session);
  if (status != OPHTHA_STATUS_OK) {
    ophtha_model_free(model);
    return fail("ophtha_session_create", status);
  }

  for (exam = 0; exam < 2 && exit_code == 0; ++exam) {
    Frame frames[FRAMES_PER_EXAM];
    if (!capture_exam(frames, exam)) {
      fprintf(stderr, "exam %d: out of memory for the frames\n", exam + 1);
      exit_code = 1;
      break;
    }
    printf("=== exam %d ===\n", exam + 1);
    exit_code = report_exam(session, frames, findings[exam], max_tokens);
    free_frames(frames, FRAMES_PER_EXAM);
  }

  ophtha_session_free(session);
  ophtha_model_free(model);
  return exit_code;
}
