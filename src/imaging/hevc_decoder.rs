//! photosift's HEVC decoder inside libheif: libde265 (the decoder libheif itself uses),
//! registered as a libheif decoder plugin so that a thumbnail decode can skip HEVC's two
//! in-loop filters, deblocking and SAO, and hand libheif planar RGB converted by
//! [`super::ycbcr`] instead of YCbCr, which libheif 1.15 would convert with a slow scalar loop.
//!
//! Why: a 12 MP HEIC shrinks about 8x to its 512 px thumbnail, so each thumbnail pixel
//! averages some 64 decoded ones. Deblocking only smooths the 1-3 pixels either side of a
//! block edge and SAO adds small per-band offsets; both are invisible after that reduction
//! (measured in docs/bench-ingest.md), while they cost a share of libde265's time. In a HEIC every
//! picture is intra-coded and HEVC predicts intra blocks from unfiltered samples, so skipping
//! the filters changes no other pixel: there is no drift. libheif does the same in its own
//! WebAssembly build, for speed.
//!
//! Everything else is what libheif's built-in libde265 plugin does: NAL units in, YCbCr planes
//! and the bitstream's colour description (nclx) out, and libheif does the rest (grids, crop,
//! transforms, colour conversion). With the filters on and no RGB conversion asked for, the
//! pixels are bit-identical to the built-in plugin's (docs/bench-ingest.md).
//!
//! The plugin is registered once per process, with a higher priority than the built-in one,
//! and stays registered: [`ensure_registered`] holds one `heif_init` that is never released,
//! because libheif forgets every plugin when its init count drops to zero. How a decode runs
//! (filters, RGB) is the calling thread's choice ([`with_mode`]); libheif decodes grid tiles
//! on the calling thread when its decoding threads are 0, as the scan asks. Any other thread
//! gets libheif's usual decode.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use libheif_sys as lh;

use super::resize::Plane;
use super::ycbcr::{Matrix, PlaneMut, YcbcrPlanes, to_rgb_planes};

/// libde265's side, from `libde265/de265.h` (Debian: libde265-dev).
mod de265 {
    use std::ffi::{c_int, c_void};

    #[repr(C)]
    pub struct Context {
        _opaque: [u8; 0],
    }
    #[repr(C)]
    pub struct Image {
        _opaque: [u8; 0],
    }

    pub const OK: c_int = 0;
    pub const CHROMA_MONO: c_int = 0;
    pub const PARAM_SEI_CHECK_HASH: c_int = 0;
    pub const PARAM_DISABLE_DEBLOCKING: c_int = 7;
    pub const PARAM_DISABLE_SAO: c_int = 8;

    #[link(name = "de265")]
    unsafe extern "C" {
        pub fn de265_new_decoder() -> *mut Context;
        pub fn de265_free_decoder(ctx: *mut Context) -> c_int;
        pub fn de265_set_parameter_bool(ctx: *mut Context, param: c_int, value: c_int);
        pub fn de265_push_NAL(
            ctx: *mut Context,
            data: *const c_void,
            length: c_int,
            pts: i64,
            user_data: *mut c_void,
        ) -> c_int;
        pub fn de265_start_worker_threads(ctx: *mut Context, n: c_int) -> c_int;
        pub fn de265_flush_data(ctx: *mut Context) -> c_int;
        pub fn de265_decode(ctx: *mut Context, more: *mut c_int) -> c_int;
        pub fn de265_get_next_picture(ctx: *mut Context) -> *const Image;
        pub fn de265_release_next_picture(ctx: *mut Context);
        pub fn de265_get_image_width(img: *const Image, channel: c_int) -> c_int;
        pub fn de265_get_image_height(img: *const Image, channel: c_int) -> c_int;
        pub fn de265_get_chroma_format(img: *const Image) -> c_int;
        pub fn de265_get_bits_per_pixel(img: *const Image, channel: c_int) -> c_int;
        pub fn de265_get_image_plane(
            img: *const Image,
            channel: c_int,
            out_stride: *mut c_int,
        ) -> *const u8;
        pub fn de265_get_image_full_range_flag(img: *const Image) -> c_int;
        pub fn de265_get_image_colour_primaries(img: *const Image) -> c_int;
        pub fn de265_get_image_transfer_characteristics(img: *const Image) -> c_int;
        pub fn de265_get_image_matrix_coefficients(img: *const Image) -> c_int;
    }
}

/// libheif's decoder plugin table (`libheif/heif_plugin.h`, plugin API version 3). The
/// bindings of libheif-sys keep the struct opaque, so it is spelled out here.
#[repr(C)]
struct DecoderPlugin {
    plugin_api_version: c_int,
    get_plugin_name: unsafe extern "C" fn() -> *const c_char,
    init_plugin: unsafe extern "C" fn(),
    deinit_plugin: unsafe extern "C" fn(),
    does_support_format: unsafe extern "C" fn(lh::heif_compression_format) -> c_int,
    new_decoder: unsafe extern "C" fn(*mut *mut c_void) -> lh::heif_error,
    free_decoder: unsafe extern "C" fn(*mut c_void),
    push_data: unsafe extern "C" fn(*mut c_void, *const c_void, usize) -> lh::heif_error,
    decode_image: unsafe extern "C" fn(*mut c_void, *mut *mut lh::heif_image) -> lh::heif_error,
    set_strict_decoding: unsafe extern "C" fn(*mut c_void, c_int),
    id_name: *const c_char,
}

// The table is immutable and its strings are 'static.
unsafe impl Sync for DecoderPlugin {}

/// Above the built-in libde265 plugin's 100, so libheif picks this one for HEVC.
const PRIORITY: c_int = 110;

static PLUGIN: DecoderPlugin = DecoderPlugin {
    plugin_api_version: 3,
    get_plugin_name,
    init_plugin,
    deinit_plugin,
    does_support_format,
    new_decoder,
    free_decoder,
    push_data,
    decode_image,
    set_strict_decoding,
    id_name: c"photosift-libde265".as_ptr(),
};

/// How the HEVC pictures decoded on a thread are decoded ([`with_mode`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DecodeMode {
    /// Skip HEVC's deblocking and SAO filters.
    pub skip_filters: bool,
    /// Hand libheif 8-bit colour pictures as planar RGB (libheif then converts nothing when
    /// planar RGB is asked of it); None: as YCbCr, for libheif to convert.
    pub to_rgb: Option<RgbMatrix>,
}

/// The matrix an RGB conversion uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RgbMatrix {
    /// The file's own colour description (its `colr` nclx box), which libheif puts before the
    /// bitstream's.
    File(Matrix),
    /// The bitstream's (its VUI; BT.601 limited range when it has none), as libheif uses when
    /// the file has no `colr` nclx box.
    Bitstream,
}

thread_local! {
    static MODE: Cell<DecodeMode> = const {
        Cell::new(DecodeMode { skip_filters: false, to_rgb: None })
    };
}

/// Pictures this plugin decoded in this process; of them, without the filters; and as RGB.
static DECODED: AtomicU64 = AtomicU64::new(0);
static DECODED_FILTERLESS: AtomicU64 = AtomicU64::new(0);
static DECODED_RGB: AtomicU64 = AtomicU64::new(0);

/// Registers the plugin with libheif, once per process. False when libheif refused it: HEIC
/// then decodes through libheif's own plugin, with the filters, which is slower but the same.
pub fn ensure_registered() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        let mut params = lh::heif_init_params { version: 0 };
        // SAFETY: plain libheif calls; the plugin table is 'static. The init is never undone,
        // so libheif's plugin list (ours included) lives as long as the process.
        unsafe {
            if lh::heif_init(&mut params).code != lh::heif_error_code_heif_error_Ok {
                return false;
            }
            let plugin = ptr::from_ref(&PLUGIN).cast::<lh::heif_decoder_plugin>();
            lh::heif_register_decoder_plugin(plugin).code == lh::heif_error_code_heif_error_Ok
        }
    })
}

/// Runs `decode` with the HEVC pictures that libheif decodes on this thread meanwhile decoded
/// as `mode` says.
pub fn with_mode<T>(mode: DecodeMode, decode: impl FnOnce() -> T) -> T {
    let before = MODE.with(|m| m.replace(mode));
    let out = decode();
    MODE.with(|m| m.set(before));
    out
}

/// How many pictures this plugin decoded in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeCounts {
    pub decoded: u64,
    /// Of them, without the in-loop filters.
    pub filterless: u64,
    /// Of them, handed to libheif as RGB.
    pub rgb: u64,
}

pub fn decode_counts() -> DecodeCounts {
    DecodeCounts {
        decoded: DECODED.load(Ordering::Relaxed),
        filterless: DECODED_FILTERLESS.load(Ordering::Relaxed),
        rgb: DECODED_RGB.load(Ordering::Relaxed),
    }
}

#[derive(Clone, Copy)]
struct Decoder {
    ctx: *mut de265::Context,
    /// The calling thread's mode when libheif made this decoder.
    mode: DecodeMode,
}

fn ok() -> lh::heif_error {
    lh::heif_error {
        code: lh::heif_error_code_heif_error_Ok,
        subcode: lh::heif_suberror_code_heif_suberror_Unspecified,
        message: c"Success".as_ptr(),
    }
}

fn plugin_error(
    subcode: lh::heif_suberror_code,
    message: &'static std::ffi::CStr,
) -> lh::heif_error {
    lh::heif_error {
        code: lh::heif_error_code_heif_error_Decoder_plugin_error,
        subcode,
        message: message.as_ptr(),
    }
}

unsafe extern "C" fn get_plugin_name() -> *const c_char {
    c"libde265 HEVC decoder (photosift: in-loop filters optional)".as_ptr()
}

// libde265 initialises itself in de265_new_decoder and frees itself with the last decoder.
unsafe extern "C" fn init_plugin() {}
unsafe extern "C" fn deinit_plugin() {}

unsafe extern "C" fn does_support_format(format: lh::heif_compression_format) -> c_int {
    if format == lh::heif_compression_format_heif_compression_HEVC { PRIORITY } else { 0 }
}

unsafe extern "C" fn new_decoder(out: *mut *mut c_void) -> lh::heif_error {
    // SAFETY: libheif passes a valid out-pointer; the context is freed in free_decoder.
    unsafe {
        let ctx = de265::de265_new_decoder();
        if ctx.is_null() {
            return plugin_error(
                lh::heif_suberror_code_heif_suberror_Unspecified,
                c"libde265 could not make a decoder",
            );
        }
        let mode = MODE.with(Cell::get);
        let skip = mode.skip_filters;
        de265::de265_set_parameter_bool(ctx, de265::PARAM_SEI_CHECK_HASH, 0);
        de265::de265_set_parameter_bool(ctx, de265::PARAM_DISABLE_DEBLOCKING, c_int::from(skip));
        de265::de265_set_parameter_bool(ctx, de265::PARAM_DISABLE_SAO, c_int::from(skip));
        // One worker thread, as libheif's own plugin starts: libde265's threaded path measured
        // 5% faster in a scan than decoding on the calling thread (docs/bench-ingest.md).
        de265::de265_start_worker_threads(ctx, 1);
        *out = Box::into_raw(Box::new(Decoder { ctx, mode })).cast();
    }
    ok()
}

unsafe extern "C" fn free_decoder(decoder: *mut c_void) {
    if decoder.is_null() {
        return;
    }
    // SAFETY: `decoder` came from Box::into_raw in new_decoder and libheif frees it once.
    unsafe {
        let decoder = Box::from_raw(decoder.cast::<Decoder>());
        de265::de265_free_decoder(decoder.ctx);
    }
}

/// Takes libheif's data: NAL units, each after a 4-byte big-endian length (the hvcC headers
/// first, then the picture's slices).
unsafe extern "C" fn push_data(
    decoder: *mut c_void,
    data: *const c_void,
    size: usize,
) -> lh::heif_error {
    // SAFETY: libheif passes our decoder and `size` readable bytes at `data`.
    let (decoder, mut rest) = unsafe {
        (&*decoder.cast::<Decoder>(), std::slice::from_raw_parts(data.cast::<u8>(), size))
    };
    while !rest.is_empty() {
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            return plugin_error(
                lh::heif_suberror_code_heif_suberror_End_of_data,
                c"truncated NAL length",
            );
        };
        let len = u32::from_be_bytes(*len) as usize;
        let Some((nal, tail)) = tail.split_at_checked(len) else {
            return plugin_error(
                lh::heif_suberror_code_heif_suberror_End_of_data,
                c"NAL unit past the end of the data",
            );
        };
        let Ok(len) = c_int::try_from(nal.len()) else {
            return plugin_error(
                lh::heif_suberror_code_heif_suberror_End_of_data,
                c"NAL unit too large",
            );
        };
        // SAFETY: libde265 copies the NAL unit.
        let err = unsafe {
            de265::de265_push_NAL(decoder.ctx, nal.as_ptr().cast(), len, 0, ptr::null_mut())
        };
        if err != de265::OK {
            return plugin_error(
                lh::heif_suberror_code_heif_suberror_Unspecified,
                c"libde265 refused a NAL unit",
            );
        }
        rest = tail;
    }
    ok()
}

/// Decodes what was pushed and hands libheif the last picture: as YCbCr (or monochrome)
/// planes with the bitstream's colour description, or as planar RGB when the mode asks for it
/// and the picture is 8-bit colour with a matrix [`Matrix`] knows.
unsafe extern "C" fn decode_image(
    decoder: *mut c_void,
    out: *mut *mut lh::heif_image,
) -> lh::heif_error {
    // SAFETY: libheif passes our decoder and a valid out-pointer; every libde265 picture is
    // released after it is copied, and a heif_image we drop is released.
    unsafe {
        let Decoder { ctx, mode } = *decoder.cast::<Decoder>();
        let mut as_rgb = false;
        *out = ptr::null_mut();
        de265::de265_flush_data(ctx);
        loop {
            let mut more: c_int = 0;
            if de265::de265_decode(ctx, &mut more) != de265::OK {
                break;
            }
            let picture = de265::de265_get_next_picture(ctx);
            if !picture.is_null() {
                if !(*out).is_null() {
                    lh::heif_image_release(*out);
                    *out = ptr::null_mut();
                }
                let matrix = mode.to_rgb.and_then(|to_rgb| rgb_matrix(picture, to_rgb));
                as_rgb = matrix.is_some();
                let copied = match matrix {
                    Some(matrix) => convert_picture(picture, matrix),
                    None => copy_picture(picture),
                };
                de265::de265_release_next_picture(ctx);
                match copied {
                    Ok(image) => *out = image,
                    Err(err) => return err,
                }
            }
            if more == 0 {
                break;
            }
        }
        if (*out).is_null() {
            return plugin_error(
                lh::heif_suberror_code_heif_suberror_Unspecified,
                c"libde265 decoded no picture",
            );
        }
        DECODED.fetch_add(1, Ordering::Relaxed);
        if mode.skip_filters {
            DECODED_FILTERLESS.fetch_add(1, Ordering::Relaxed);
        }
        if as_rgb {
            DECODED_RGB.fetch_add(1, Ordering::Relaxed);
        }
    }
    ok()
}

unsafe extern "C" fn set_strict_decoding(_decoder: *mut c_void, _flag: c_int) {}

/// The matrix to convert `picture` with, when it is an 8-bit colour picture and the matrix is
/// one [`Matrix`] knows.
unsafe fn rgb_matrix(picture: *const de265::Image, to_rgb: RgbMatrix) -> Option<Matrix> {
    // SAFETY: `picture` is a live libde265 picture.
    unsafe {
        let eight_bit = (0..3).all(|c| de265::de265_get_bits_per_pixel(picture, c) == 8);
        if de265::de265_get_chroma_format(picture) == de265::CHROMA_MONO || !eight_bit {
            return None;
        }
        match to_rgb {
            RgbMatrix::File(matrix) => Some(matrix),
            RgbMatrix::Bitstream => Matrix::from_nclx(
                de265::de265_get_image_matrix_coefficients(picture) as u16,
                de265::de265_get_image_full_range_flag(picture) != 0,
            ),
        }
    }
}

/// Converts an 8-bit YCbCr libde265 picture into a new planar RGB heif_image.
unsafe fn convert_picture(
    picture: *const de265::Image,
    matrix: Matrix,
) -> Result<*mut lh::heif_image, lh::heif_error> {
    // SAFETY: `picture` is a live libde265 picture whose planes hold `height` rows of
    // `stride` bytes; the heif_image is released on error.
    unsafe {
        let size = |c| {
            (de265::de265_get_image_width(picture, c), de265::de265_get_image_height(picture, c))
        };
        let (w, h) = size(0);
        let bad_size = || {
            plugin_error(
                lh::heif_suberror_code_heif_suberror_Invalid_image_size,
                c"a plane has no size",
            )
        };
        let mut planes = [Plane { data: &[], stride: 0, width: 0, height: 0 }; 3];
        for (c, plane) in planes.iter_mut().enumerate() {
            let (pw, ph) = size(c as c_int);
            let mut stride: c_int = 0;
            let data = de265::de265_get_image_plane(picture, c as c_int, &mut stride);
            if data.is_null() || pw <= 0 || ph <= 0 || stride < pw {
                return Err(bad_size());
            }
            let len = stride as usize * (ph as usize - 1) + pw as usize;
            let data = std::slice::from_raw_parts(data, len);
            *plane = Plane { data, stride: stride as usize, width: pw as u32, height: ph as u32 };
        }
        let [y, cb, cr] = planes;
        // 4:2:0, 4:2:2 or 4:4:4: how many luma samples one chroma sample spans.
        let subsampling =
            (if cb.width < y.width { 2 } else { 1 }, if cb.height < y.height { 2 } else { 1 });
        let mut image: *mut lh::heif_image = ptr::null_mut();
        let err = lh::heif_image_create(
            w,
            h,
            lh::heif_colorspace_heif_colorspace_RGB,
            lh::heif_chroma_heif_chroma_444,
            &mut image,
        );
        if err.code != lh::heif_error_code_heif_error_Ok {
            return Err(err);
        }
        let channels = [
            lh::heif_channel_heif_channel_R,
            lh::heif_channel_heif_channel_G,
            lh::heif_channel_heif_channel_B,
        ];
        let mut out: Vec<PlaneMut<'_>> = Vec::with_capacity(3);
        for channel in channels {
            let err = lh::heif_image_add_plane(image, channel, w, h, 8);
            if err.code != lh::heif_error_code_heif_error_Ok {
                lh::heif_image_release(image);
                return Err(err);
            }
            let mut stride: c_int = 0;
            let data = lh::heif_image_get_plane(image, channel, &mut stride);
            if data.is_null() || stride < w {
                lh::heif_image_release(image);
                return Err(bad_size());
            }
            let len = stride as usize * (h as usize - 1) + w as usize;
            out.push(PlaneMut {
                data: std::slice::from_raw_parts_mut(data, len),
                stride: stride as usize,
            });
        }
        let Ok(out) = <[PlaneMut<'_>; 3]>::try_from(out) else { unreachable!("three planes") };
        if let Err(why) = to_rgb_planes(YcbcrPlanes { y, cb, cr, subsampling }, matrix, out) {
            tracing::debug!("HEVC picture not converted to RGB: {why}");
            lh::heif_image_release(image);
            return Err(plugin_error(
                lh::heif_suberror_code_heif_suberror_Unsupported_color_conversion,
                c"the picture's planes do not fit its size",
            ));
        }
        Ok(image)
    }
}

/// Copies a libde265 picture into a new heif_image: its planes at their bit depth, and its
/// nclx colour description (values libheif does not know are left at its defaults).
unsafe fn copy_picture(
    picture: *const de265::Image,
) -> Result<*mut lh::heif_image, lh::heif_error> {
    // SAFETY: `picture` is a live libde265 picture; the heif_image is released on error.
    unsafe {
        let mono = de265::de265_get_chroma_format(picture) == de265::CHROMA_MONO;
        let (colorspace, planes) = if mono {
            (lh::heif_colorspace_heif_colorspace_monochrome, 1)
        } else {
            (lh::heif_colorspace_heif_colorspace_YCbCr, 3)
        };
        // libde265's chroma numbering (mono, 420, 422, 444) is libheif's.
        let chroma = de265::de265_get_chroma_format(picture) as lh::heif_chroma;
        let mut image: *mut lh::heif_image = ptr::null_mut();
        let (w, h) =
            (de265::de265_get_image_width(picture, 0), de265::de265_get_image_height(picture, 0));
        let err = lh::heif_image_create(w, h, colorspace, chroma, &mut image);
        if err.code != lh::heif_error_code_heif_error_Ok {
            return Err(err);
        }
        let fail = |image, err| {
            lh::heif_image_release(image);
            Err(err)
        };
        let bpp = de265::de265_get_bits_per_pixel(picture, 0);
        let channels = [
            lh::heif_channel_heif_channel_Y,
            lh::heif_channel_heif_channel_Cb,
            lh::heif_channel_heif_channel_Cr,
        ];
        for (c, channel) in (0..planes).zip(channels) {
            if de265::de265_get_bits_per_pixel(picture, c) != bpp {
                return fail(
                    image,
                    plugin_error(
                        lh::heif_suberror_code_heif_suberror_Unsupported_color_conversion,
                        c"planes of different bit depths",
                    ),
                );
            }
            let (pw, ph) = (
                de265::de265_get_image_width(picture, c),
                de265::de265_get_image_height(picture, c),
            );
            if pw <= 0 || ph <= 0 {
                return fail(
                    image,
                    plugin_error(
                        lh::heif_suberror_code_heif_suberror_Invalid_image_size,
                        c"a plane has no size",
                    ),
                );
            }
            let err = lh::heif_image_add_plane(image, channel, pw, ph, bpp);
            if err.code != lh::heif_error_code_heif_error_Ok {
                return fail(image, err);
            }
            let mut src_stride: c_int = 0;
            let src = de265::de265_get_image_plane(picture, c, &mut src_stride);
            let mut dst_stride: c_int = 0;
            let dst = lh::heif_image_get_plane(image, channel, &mut dst_stride);
            if src.is_null() || dst.is_null() {
                return fail(
                    image,
                    plugin_error(
                        lh::heif_suberror_code_heif_suberror_Unspecified,
                        c"a plane has no memory",
                    ),
                );
            }
            let row = pw as usize * (bpp as usize).div_ceil(8);
            for y in 0..ph as usize {
                ptr::copy_nonoverlapping(
                    src.add(y * src_stride as usize),
                    dst.add(y * dst_stride as usize),
                    row,
                );
            }
        }
        let nclx = lh::heif_nclx_color_profile_alloc();
        if !nclx.is_null() {
            // A value libheif does not know is refused and the default kept.
            lh::heif_nclx_color_profile_set_color_primaries(
                nclx,
                de265::de265_get_image_colour_primaries(picture) as u16,
            );
            lh::heif_nclx_color_profile_set_transfer_characteristics(
                nclx,
                de265::de265_get_image_transfer_characteristics(picture) as u16,
            );
            lh::heif_nclx_color_profile_set_matrix_coefficients(
                nclx,
                de265::de265_get_image_matrix_coefficients(picture) as u16,
            );
            (*nclx).full_range_flag =
                u8::from(de265::de265_get_image_full_range_flag(picture) != 0);
            lh::heif_image_set_nclx_color_profile(image, nclx);
            lh::heif_nclx_color_profile_free(nclx);
        }
        Ok(image)
    }
}
