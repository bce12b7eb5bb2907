# How assets/demo was made from the unpacked packages (see LICENSES.md): run with Pillow,
# from a folder holding skimage/data, deb/x/<package>/ (dpkg-deb -x) and pypi/<unpacked wheels>.
# Usage: python reencode.py OUTDIR
import bz2, os, sys
from PIL import Image, ImageOps
S='skimage/data'; D='deb/x'; L16=D+'/lomiri-wallpapers-16.04/usr/share/backgrounds'; L20=D+'/lomiri-wallpapers-20.04/usr/share/backgrounds'
M=D+'/mate-backgrounds/usr/share/backgrounds/mate'; P=D+'/plasma-workspace-wallpapers/usr/share/wallpapers'
SK='pypi/sklearn/datasets/images'
out=sys.argv[1]; os.makedirs(out,exist_ok=True)
items=[
 ('astronaut', S+'/astronaut.png'), ('cameraman', S+'/camera.png'), ('grace-hopper','pypi/matplotlib/mpl-data/sample_data/grace_hopper.jpg'),
 ('chelsea-the-cat', S+'/chelsea.png'), ('raccoon','FACE'), ('two-dogs', L16+'/friends_by_Aitzol_Berasategi.jpg'),
 ('nuthatch', L20+'/Kleiber_by_Lukas_Baubkus.jpg'), ('ladybird', M+'/nature/LadyBird.jpg'),
 ('coffee', S+'/coffee.png'), ('rocket', S+'/rocket.jpg'), ('hubble-deep-field', S+'/hubble_deep_field.jpg'), ('coins', S+'/coins.png'),
 ('dandelions', L16+'/seeding_by_Clements_Engelhardt.jpg'), ('autumn-hills', L16+'/aitzgorri_by_Aitzol_Berasategi.jpg'),
 ('picos-de-europa', L16+'/picosdeeuropa_by_Aitzol_Berasategi.jpg'), ('forest-stream', L16+'/life_by_Aitzol_Berasategi.jpg'),
 ('fig', L16+'/Picture_0B_by_freespace.jpg'), ('forest-path', P+'/Path/contents/images/2560x1600.jpg'),
 ('rowing-boats', P+'/BytheWater/contents/images/2560x1600.jpg'), ('dune', M+'/nature/Dune.jpg'),
 ('yellow-flower', M+'/nature/YellowFlower.jpg'), ('china-temple', SK+'/china.jpg'), ('flower', SK+'/flower.jpg'),
]
total=0
for name,src in items:
    if src=='FACE':
        raw=bz2.decompress(open('pypi/scipy/misc/face.dat','rb').read()); im=Image.frombytes('RGB',(1024,768),raw); exif=None
    else:
        im=Image.open(src); exif=im.getexif(); im=ImageOps.exif_transpose(im)
        if exif is not None and 274 in exif: del exif[274]
    if im.mode not in ('RGB','L'): im=im.convert('RGB')
    im.thumbnail((1600,1600), Image.LANCZOS)
    dst=f'{out}/{name}.jpg'
    kw=dict(quality=82, optimize=True, progressive=False)
    if exif is not None and len(exif): kw['exif']=exif.tobytes()
    im.save(dst,'JPEG',**kw)
    sz=os.path.getsize(dst); total+=sz
    print(f'{name:20s} {im.size} {sz//1024} KiB')
print('total', total//1024, 'KiB')
