<?xml version="1.0" encoding="UTF-8"?>
<!-- A looked-up electronic result with the outcome of its verification: who signed, how,
     and the certificate's validity, then the signed document itself, unchanged (its
     signature can be verified again by whoever receives it). -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="xml" encoding="UTF-8" indent="no"/>
  <xsl:param name="maHoSo"/>
  <xsl:param name="nguoiKy"/>
  <xsl:param name="coQuanCap"/>
  <xsl:param name="thuatToan"/>
  <xsl:param name="khoa"/>
  <xsl:param name="hieuLucDen"/>
  <xsl:template match="/">
    <TraCuuKetQua xmlns="urn:lienthong:ketqua:1">
      <MaHoSo><xsl:value-of select="$maHoSo"/></MaHoSo>
      <XacThuc>
        <HopLe>1</HopLe>
        <NguoiKy><xsl:value-of select="$nguoiKy"/></NguoiKy>
        <CoQuanCapChungThu><xsl:value-of select="$coQuanCap"/></CoQuanCapChungThu>
        <ThuatToan><xsl:value-of select="$thuatToan"/></ThuatToan>
        <Khoa><xsl:value-of select="$khoa"/></Khoa>
        <ChungThuHieuLucDen><xsl:value-of select="$hieuLucDen"/></ChungThuHieuLucDen>
      </XacThuc>
      <TaiLieu><xsl:copy-of select="/*"/></TaiLieu>
    </TraCuuKetQua>
  </xsl:template>
</xsl:stylesheet>
